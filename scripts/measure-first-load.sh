#!/usr/bin/env bash
# Measures a release build as a visitor sees it: first-load transfer of the home page, and over
# N fresh tabs the time from navigation start to the prompt painted on /terminal (with where the
# time goes), the first typed command answered, and the home page's "Start your sandbox" press
# to prompt, and a post's Run button to its program's output; with the warm pool off and on.
# Prints figures; asserts nothing.
# Usage: scripts/measure-first-load.sh [TABS]   (default 10; run scripts/setup.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
tabs=${1:-10}
source scripts/release-server.sh
scripts/build-site.sh --release >/dev/null
port=3210
for pool in 0 4; do
  echo "== warm pool size $pool"
  ROOTRESUME_SESSIONS_GRACE_SECS=5 ROOTRESUME_SESSIONS_MAX_PER_CLIENT=1000 \
    ROOTRESUME_SESSIONS_RATE_BURST=1000 start_release_server $port "$pool" "measure-$$"
  trap 'kill $release_server 2>/dev/null' EXIT
  # Let the pool fill before measuring.
  [ "$pool" -gt 0 ] && sleep 8
  node end2end/bench/first-load.mjs "http://127.0.0.1:$port" "$tabs"
  kill -TERM $release_server; wait $release_server || true
  trap - EXIT
done
