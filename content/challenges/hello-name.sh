# Check of the challenge "make ~/hello print your name" (content/posts/read-it-run-it.md).
# Run by the server in the reader's sandbox as the `checker` user, apart from their shell: it
# passes when this script exits 0; the last line it prints is what the reader is told.
h=/home/visitor/hello
if [ ! -e "$h" ]; then
  echo "There is no ~/hello yet: compile your program with gcc -o ~/hello hello.c"
  exit 1
fi
if [ "$(head -c 4 "$h" | od -An -c | tr -d ' ')" != '177ELF' ]; then
  echo "~/hello is not a compiled program: build it from C with gcc"
  exit 1
fi
out=$(timeout 5 "$h" </dev/null 2>/dev/null | head -c 2000)
case "$out" in
  *[A-Za-z]*) ;;
  *) echo "~/hello ran but printed no name"; exit 1 ;;
esac
case "$out" in
  *reader*|*READER*|*Reader*|*editor*)
    echo "~/hello still greets the example's name: put your own name in it"; exit 1 ;;
esac
echo "Passed: ~/hello says: $(printf '%s' "$out" | head -n 1 | cut -c1-80)"
