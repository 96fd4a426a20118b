#!/usr/bin/env bash
# Benchmarks RootResume in one run against the real server and Docker engine, beside the bare
# engine and a peer web terminal (terminado), and writes docs/benchmarks/README.md and
# docs/benchmarks/benchmarks.svg.
#
# Usage: scripts/bench.sh [rootresume-bench options]   (--help lists them; --smoke takes seconds)
# A full run takes about 15 minutes and holds hundreds of containers at its peak: run it on a
# machine you may load. The peer is installed into a scratch folder outside the repository
# ($ROOTRESUME_BENCH_PEER_DIR, default /var/tmp/rootresume-bench-peer), never committed.
set -euo pipefail
# Docker engine, Rust tools, npm packages (binaryen, Playwright), sandbox image, Chromium.
source "$(dirname "$0")/setup.sh" --test
target=${CARGO_TARGET_DIR:-target}
peer=${ROOTRESUME_BENCH_PEER_DIR:-/var/tmp/rootresume-bench-peer}

say "building the release site (WASM, CSS), the release server and the bench"
scripts/build-site.sh --release --frontend-only
cargo build --release -p server -p rootresume-bench

if ! "$peer/venv/bin/python" -c 'import terminado' 2>/dev/null; then
  say "installing the peer, terminado (PyPI), into $peer"
  python3 -m venv "$peer/venv"
  "$peer/venv/bin/pip" install --quiet --disable-pip-version-check "terminado==0.18.1"
fi

"$target/release/rootresume-bench" --server "$target/release/server" \
  --peer-python "$peer/venv/bin/python" "$@"
