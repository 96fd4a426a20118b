#!/usr/bin/env bash
# Measures what the panel's resource meter costs with `rootresume-bench --meter`: 200 idle
# sessions for a minute with every tab's meter off, then on; prints the engine's and the
# server's CPU, the server's memory and the readings received. About ten minutes after the
# build; every container of the run is removed at the end.
#
# Settings: RR_BENCH_METER_SESSIONS (200), RR_BENCH_METER_SECS (60),
# RR_BENCH_METER_DIR (work folder, /var/tmp/rootresume-bench-meter).
set -euo pipefail
# shellcheck source=scripts/setup.sh
source "$(dirname "$0")/setup.sh"
target=${CARGO_TARGET_DIR:-target}
work=${RR_BENCH_METER_DIR:-/var/tmp/rootresume-bench-meter}
mkdir -p "$work"
work=$(realpath "$work")
LEPTOS_SITE_ROOT=$work/site scripts/build-site.sh --release --frontend-only
cargo build --release -p server -p rootresume-bench
RR_BENCH_SERVER=$target/release/server RR_BENCH_SITE_ROOT=$work/site RR_BENCH_SCRATCH=$work/logs \
  "$target/release/rootresume-bench" --meter 2>&1 | tee "$work/meter.txt"
