#!/usr/bin/env bash
# Measures a release build: first-load transfer of the home page and time from page load to
# shell prompt over N tabs, with the warm pool off and on. Prints figures; asserts nothing.
# Usage: scripts/measure-first-load.sh [TABS]   (default 10; run scripts/setup.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
tabs=${1:-10}
target=${CARGO_TARGET_DIR:-target}
cargo leptos build --release >/dev/null
port=3210
for pool in 0 4; do
  echo "== warm pool size $pool"
  LEPTOS_OUTPUT_NAME=rootresume LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \
  LEPTOS_SITE_ADDR=127.0.0.1:$port LEPTOS_ENV=PROD RUST_LOG=warn \
  ROOTRESUME_SESSIONS_POOL_SIZE=$pool ROOTRESUME_SESSIONS_GRACE_SECS=5 \
  ROOTRESUME_SESSIONS_MAX_PER_CLIENT=1000 ROOTRESUME_SESSIONS_RATE_BURST=1000 \
  ROOTRESUME_INSTANCE="measure-$$" "$target/release/server" &
  server=$!
  trap 'kill $server 2>/dev/null' EXIT
  until curl -sf "http://127.0.0.1:$port/" >/dev/null; do sleep 0.2; done
  # Let the pool fill before measuring.
  [ "$pool" -gt 0 ] && sleep 8
  node end2end/bench/first-load.mjs "http://127.0.0.1:$port" "$tabs"
  kill -TERM $server; wait $server || true
  trap - EXIT
done
