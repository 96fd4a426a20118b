# Login shells read .bashrc too.
[ -f "$HOME/.bashrc" ] && . "$HOME/.bashrc"
