#!/usr/bin/env bash
# Builds the site: the browser's WASM bundle and its JS glue, the stylesheet and the static files
# into $LEPTOS_SITE_ROOT (default target/site), and the server binary. It does what
# `cargo leptos build` did here, with tools a fresh machine gets in a minute instead of the
# twenty cargo-leptos takes to compile: cargo, the workspace's own wasm-bindgen (bindgen/), and
# from npm binaryen's wasm-opt and esbuild.
#   scripts/build-site.sh                   debug build (what the tests run)
#   scripts/build-site.sh --release         optimised: the WASM's size profile, wasm-opt,
#                                           minified JS glue and CSS, the server's release profile
#   ... --frontend-only                     the site's files only, no server binary
# The WASM and the server compile side by side (the WASM's last step, link-time optimisation
# in one unit, uses one core), each in a target folder of its own so neither waits on the
# other's lock: $CARGO_TARGET_DIR/front for the WASM, as cargo-leptos kept it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

release=
frontend_only=
for arg in "$@"; do
  case "$arg" in
    --release) release=1 ;;
    --frontend-only) frontend_only=1 ;;
    *) echo "build-site.sh: unknown option $arg (see the top of this file)" >&2; exit 2 ;;
  esac
done

target=${CARGO_TARGET_DIR:-$PWD/target}
site=${LEPTOS_SITE_ROOT:-target/site}
pkg="$site/${LEPTOS_SITE_PKG_DIR:-pkg}"
# The output name is fixed by .cargo/config.toml ([env] LEPTOS_OUTPUT_NAME), which every build
# shares, so the server, the tests and this bundle agree on the file names.
name=rootresume

build_wasm() {
  local profile_args=() profile_dir=debug
  if [ -n "$release" ]; then profile_args=(--profile wasm-release); profile_dir="wasm-release"; fi
  cargo build --package frontend --lib --target wasm32-unknown-unknown --no-default-features \
    --target-dir "$target/front" "${profile_args[@]}"
  local out
  out=$(mktemp -d "${TMPDIR:-/tmp}/rootresume-site.XXXXXX")
  # shellcheck disable=SC2064  # the folder is known now
  trap "rm -rf '$out'; trap - RETURN" RETURN
  # The JS glue, by the workspace's own wasm-bindgen (bindgen/: the library at the crate's
  # version, so no wasm-bindgen-cli to install or keep in step). It first splits the bundle at
  # its split points (app/src/terminal/lazy.rs): the parts loaded on first use come out as
  # split_*.wasm and chunk_*.wasm (code parts share) beside their loader, $loader.
  cargo build --quiet --package site-bindgen --target-dir "$target/front"
  "$target/front/debug/site-bindgen" "$target/front/wasm32-unknown-unknown/$profile_dir/frontend.wasm" \
    "$out" "$name"
  local loader=__wasm_split.______________________.js parts=()
  [ -f "$out/$loader" ] || { echo "build-site.sh: no $loader: the bundle has no split points" >&2; return 1; }
  for part in "$out"/split_*.wasm "$out"/chunk_*.wasm; do
    [ -f "$part" ] && parts+=("$(basename "$part")")
  done
  if [ -n "$release" ]; then
    # What is sent counts, not the file: -Os to a fixed point makes a larger file that Brotli
    # packs smaller (133.2 KB against -Oz's 134.8 KB, measured on this bundle).
    wasm-opt -Os --converge "$out/${name}_bg.wasm" -o "$out/$name.wasm"
    for part in "${parts[@]}"; do wasm-opt -Os --converge "$out/$part" -o "$out/$part"; done
    # wasm-bindgen imports the loader once per split point, under one key: harmless, as they
    # are the same module, but esbuild warns.
    for js in "$name.js" "$loader"; do
      esbuild "$out/$js" --minify --format=esm --log-level=warning \
        --log-override:duplicate-object-key=silent --outfile="$out/$js.min" && mv "$out/$js.min" "$out/$js"
    done
    esbuild style/main.css --minify --log-level=warning --outfile="$out/$name.css"
  else
    mv "$out/${name}_bg.wasm" "$out/$name.wasm"
    cp style/main.css "$out/$name.css"
  fi
  # Each part named after its content, in the loader too: a tab opened before a new build asks
  # for its own parts, which are gone (an error it shows), never for the new build's, whose
  # code would not fit its bundle.
  local hashed=()
  for part in "${parts[@]}"; do
    local named="${part%.wasm}.$(sha256sum "$out/$part" | cut -c1-12).wasm"
    mv "$out/$part" "$out/$named"
    sed -i "s|\"\./$part\"|\"./$named\"|g" "$out/$loader"
    grep -q "\"\./$named\"" "$out/$loader" || { echo "build-site.sh: $part is not named in $loader" >&2; return 1; }
    hashed+=("$named")
  done
  mkdir -p "$pkg"
  # Each file replaced whole, so a server starting meanwhile never reads half of one; the parts
  # and their loader before the bundle that asks for them.
  rm -f "$pkg"/split_*.wasm "$pkg"/chunk_*.wasm
  for file in "${hashed[@]}" "$loader" "$name.wasm" "$name.js" "$name.css"; do
    cp "$out/$file" "$pkg/.$file.new" && mv "$pkg/.$file.new" "$pkg/$file"
  done
  if [ -d "$out/snippets" ]; then rm -rf "$pkg/snippets" && cp -r "$out/snippets" "$pkg/"; fi
  cp -r public/. "$site/"
}

started=$(date +%s)
if [ -n "$frontend_only" ]; then
  build_wasm
else
  build_wasm &
  wasm=$!
  server_args=(); [ -n "$release" ] && server_args=(--release)
  server_ok=0
  cargo build --package server --bin server "${server_args[@]}" || server_ok=$?
  wasm_ok=0
  wait "$wasm" || wasm_ok=$?
  [ "$wasm_ok" = 0 ] || { echo "build-site.sh: the WASM bundle did not build" >&2; exit 1; }
  [ "$server_ok" = 0 ] || { echo "build-site.sh: the server did not build" >&2; exit 1; }
fi
echo "build-site.sh: site in $site${frontend_only:+ (no server)} built in $(( $(date +%s) - started )) s"
