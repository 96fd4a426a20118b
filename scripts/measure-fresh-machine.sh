#!/usr/bin/env bash
# Times the README's quick start as a new user meets it on this machine, from a fresh state:
#   1. a fresh clone, `scripts/run.sh`, until the site answers and its engine is ready;
#   2. a fresh clone again, `scripts/test.sh`, until every test passed.
# "Fresh": an empty home (so no ~/.cargo/bin tools, no crates or npm packages downloaded), an
# empty cargo target folder, no sandbox image, no second engine's state, no kubernetes-validate.
# What it cannot take away, and says so: Rust itself (rustup and the toolchain are the quick
# start's prerequisites: their proxies are linked into the empty home), Debian's packages (Docker,
# Chromium, redis-server, haproxy, kubectl, debootstrap), and the running Docker engine.
# WARNING: it removes the sandbox images (rootresume-sandbox:latest and the bootstrapped base)
# from the default engine; the run builds them again. Prints figures; asserts nothing.
# Usage: scripts/measure-fresh-machine.sh [run|test|both]   (default both; ~45 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
what=${1:-both}
scratch=${RR_FRESH_DIR:-/var/tmp/rootresume-fresh}
# Logs are kept after the scratch folder goes.
logs=${RR_FRESH_LOGS:-${TMPDIR:-/tmp}/rootresume-fresh-logs}
mkdir -p "$logs"
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
rustup_bin=$(command -v rustup || echo "$HOME/.cargo/bin/rustup")
say() { printf '\033[1m[fresh]\033[0m %s\n' "$*"; }

# A fresh state under $scratch/$1: home, clone, target folder, temp folder, second engine.
fresh_state() {
  local at=$scratch/$1 image
  # An image in use would only be untagged, left dangling beside the new one: refuse instead.
  for image in rootresume-sandbox:latest rootresume-base:bookworm; do
    if [ -n "$(docker ps -aq --filter "ancestor=$image" 2>/dev/null)" ]; then
      say "containers of $image exist (a running site or test suite?): stop them first; nothing was removed" >&2
      exit 1
    fi
  done
  if [ -d "$scratch/engine2" ]; then RR_ENGINE2_DIR=$scratch/engine2 scripts/engine2.sh down >/dev/null 2>&1 || true; fi
  rm -rf "$scratch"
  mkdir -p "$at/home/.cargo/bin"
  # A short temporary folder, as a new user's /tmp: the cluster's second engine keeps a Unix
  # socket under it, whose path may not pass 107 bytes.
  rm -rf "/tmp/rr-fresh-$1" && mkdir -p "/tmp/rr-fresh-$1"
  # rustup's proxies: one binary that acts by its name.
  for tool in cargo rustc rustup rustdoc rustfmt cargo-fmt cargo-clippy clippy-driver; do
    ln -s "$rustup_bin" "$at/home/.cargo/bin/$tool"
  done
  git clone -q "$repo" "$at/clone"
  for image in rootresume-sandbox:latest rootresume-base:bookworm; do
    docker image rm "$image" >/dev/null 2>&1 || true
  done
  echo "$at"
}

# Runs a command in the fresh state at $1 with a clean environment (no CARGO_TARGET_DIR etc.).
in_fresh() {
  local at=$1
  shift
  (cd "$at/clone" && env -i HOME="$at/home" RUSTUP_HOME="$rustup_home" CARGO_HOME="$at/home/.cargo" \
    PATH="$at/home/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    TMPDIR="/tmp/rr-fresh-$(basename "$at")" CARGO_TARGET_DIR="$at/target" RR_ENGINE2_DIR="$scratch/engine2" \
    TERM=dumb LANG=C.UTF-8 "$@")
}

minutes() { awk -v s="$1" 'BEGIN { printf "%d min %02d s", s / 60, s % 60 }'; }

measure_run() {
  local at started pid up=
  at=$(fresh_state run) || return 1
  say "1. scripts/run.sh in a fresh clone ($at/clone); log: $logs/run.log"
  started=$(date +%s)
  in_fresh "$at" scripts/run.sh >"$logs/run.log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if curl -sf http://127.0.0.1:3000/readyz 2>/dev/null | grep -q '^ready'; then up=$(( $(date +%s) - started )); break; fi
    sleep 2
  done
  # run.sh ends by becoming the server, which removes its sandboxes on SIGTERM.
  pkill -TERM -f "^$at/target/debug/server" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ -z "$up" ]; then tail -n 30 "$logs/run.log" >&2; say "the site did not come up"; return 1; fi
  say "site up (engine ready) $(minutes "$up") after a fresh clone; goal 10 min"
  grep -E 'installing|building|built|build-site' "$logs/run.log" | sed 's/^/    /' || true
}

measure_test() {
  local at started status=0
  at=$(fresh_state test) || return 1
  say "2. scripts/test.sh in a fresh clone ($at/clone); log: $logs/test.log"
  started=$(date +%s)
  in_fresh "$at" scripts/test.sh >"$logs/test.log" 2>&1 || status=$?
  local took=$(( $(date +%s) - started ))
  if [ "$status" != 0 ]; then tail -n 40 "$logs/test.log" >&2; say "the tests failed after $(minutes "$took")"; return 1; fi
  say "tests green $(minutes "$took") after a fresh clone; goal 20 min"
}

case "$what" in
  run) measure_run ;;
  test) measure_test ;;
  both) measure_run && measure_test ;;
  *) echo "usage: $0 [run|test|both]" >&2; exit 2 ;;
esac
if [ -d "$scratch/engine2" ]; then RR_ENGINE2_DIR=$scratch/engine2 scripts/engine2.sh down >/dev/null 2>&1 || true; fi
rm -rf "$scratch" /tmp/rr-fresh-run /tmp/rr-fresh-test
