#!/usr/bin/env bash
# Measures one server over two Docker engines with `rootresume-bench --engines`: where a burst of
# 50 arrivals lands, time to prompt on each engine (in the burst, and one at a time), and what
# visitors see when the second engine is stopped with 10 live sessions and started again.
# The second engine is scripts/engine2.sh's, in a folder of its own; whatever happens it is
# removed at the end, with every container of the run. About five minutes after the build.
#
# Settings: RR_BENCH_ENGINES_DIR (work folder, /var/tmp/rootresume-bench-engines),
# RR_BENCH_BURST (50), RR_BENCH_LIVE (10).
set -euo pipefail
# shellcheck source=scripts/setup.sh
source "$(dirname "$0")/setup.sh"
target=${CARGO_TARGET_DIR:-target}
work=${RR_BENCH_ENGINES_DIR:-/var/tmp/rootresume-bench-engines}
mkdir -p "$work"
work=$(realpath "$work")
export RR_ENGINE2_DIR=$work/engine2

# shellcheck disable=SC2317  # run by the trap
on_exit() {
  local status=$?
  trap - EXIT
  scripts/engine2.sh down || status=1
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

scripts/engine2.sh up
LEPTOS_SITE_ROOT=$work/site scripts/build-site.sh --release --frontend-only
cargo build --release -p server -p rootresume-bench
RR_BENCH_SERVER=$target/release/server RR_BENCH_SITE_ROOT=$work/site \
  RR_BENCH_ENGINE2=$(scripts/engine2.sh socket) RR_BENCH_ENGINE2_SCRIPT=$PWD/scripts/engine2.sh \
  RR_BENCH_SCRATCH=$work/logs "$target/release/rootresume-bench" --engines 2>&1 | tee "$work/engines.txt"
