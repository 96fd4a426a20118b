#!/usr/bin/env bash
# Measures a local cluster — scripts/cluster.sh: a redis-server, three replicas sharing sessions
# through it, HAProxy round-robin in front — with `rootresume-bench --cluster`:
#   1. takeover after kill -9 of the replica holding a tab (the page's reconnect schedule, and
#      an eager one), kill → the same shell answers again;
#   2. page → prompt through HAProxy and straight to one replica, warm pool on, then off;
#   3. keystroke echo through HAProxy and straight to the replica;
#   4. then, without the cluster, the server's RSS per idle session with the Redis store beside
#      the in-memory one (a server and a redis-server of the bench's own).
# Prints every sample and a markdown summary per run (also in $RR_BENCH_CLUSTER_DIR/*.txt).
#
# Usage: scripts/bench-cluster.sh [rootresume-bench --cluster options]   (given to every run;
#        `rootresume-bench --cluster --help` lists them, e.g. --rounds 3 --prompt-samples 5)
# The cluster gets ports, a state folder and an instance name of its own (RR_CLUSTER_* below,
# each overridable), and is brought down whatever happens: no process, container or Redis key
# of the run is left. Takes about a quarter of an hour on two cores, after the build.
set -euo pipefail
# Docker engine, Rust tools, npm packages, sandbox image, redis-server and haproxy.
# shellcheck source=scripts/setup.sh
source "$(dirname "$0")/setup.sh" --cluster
target=${CARGO_TARGET_DIR:-target}
work=${RR_BENCH_CLUSTER_DIR:-/var/tmp/rootresume-bench-cluster}
mkdir -p "$work"
work=$(realpath "$work")

export RR_CLUSTER_DIR=${RR_CLUSTER_DIR:-$work/cluster}
export RR_CLUSTER_INSTANCE=${RR_CLUSTER_INSTANCE:-bench-cluster-$$}
export RR_CLUSTER_REDIS_PORT=${RR_CLUSTER_REDIS_PORT:-6392}
export RR_CLUSTER_PORT=${RR_CLUSTER_PORT:-3201}
export RR_CLUSTER_LB_PORT=${RR_CLUSTER_LB_PORT:-8280}
export RR_CLUSTER_REPLICAS=${RR_CLUSTER_REPLICAS:-3}
export RR_CLUSTER_BIN=$work/server RR_CLUSTER_SITE_ROOT=$work/site
memory_instance=bench-cluster-memory-$$

# Every client of the bench is 127.0.0.1: lift the per-client caps and rates (as scripts/bench.sh
# does), nothing else; the warm pool keeps the replicas' default unless a run sets it.
export ROOTRESUME_SESSIONS_MAX_PER_CLIENT=1000 ROOTRESUME_SECURITY_MAX_SOCKETS_PER_CLIENT=10000
export ROOTRESUME_SESSIONS_RATE_BURST=1000000 ROOTRESUME_SESSIONS_RATE_PER_MINUTE=1000000
unset ROOTRESUME_SESSIONS_POOL_SIZE

# Brings the cluster down if it runs; first says what it still held: Redis keys by kind (session
# hashes folded) and containers of its instance. `down` flushes Redis and removes those.
cluster_down() {
  [ -f "$RR_CLUSTER_DIR/cluster.env" ] || return 0
  local keys
  keys=$(timeout 2 redis-cli -h 127.0.0.1 -p "$RR_CLUSTER_REDIS_PORT" dbsize 2>/dev/null || echo '?')
  say "before down: $keys key(s) in the cluster's Redis, $(docker ps -aq --filter \
    "label=rootresume.instance=$RR_CLUSTER_INSTANCE" | wc -l) container(s) of $RR_CLUSTER_INSTANCE"
  timeout 5 redis-cli -h 127.0.0.1 -p "$RR_CLUSTER_REDIS_PORT" --scan 2>/dev/null \
    | sed -E "s/^rr:$RR_CLUSTER_INSTANCE://; s/\{[0-9a-f]{16,}\}/{session}/; s/[0-9]+(\.[0-9]+){3}/ADDR/" \
    | sort | uniq -c | sed 's/^/    /' || true
  scripts/cluster.sh down
}

# shellcheck disable=SC2317  # run by the trap
on_exit() {
  local status=$? containers
  trap - EXIT
  if [ "$status" != 0 ] && [ -f "$RR_CLUSTER_DIR/cluster.env" ]; then
    for part in redis $(scripts/cluster.sh replicas) haproxy; do
      say "the end of $part's log:"
      tail -n 15 "$(scripts/cluster.sh log "$part")" || true
    done
  fi
  cluster_down || status=1
  # The memory phase's server removes its containers when it stops; sweep what a failure left.
  containers=$(docker ps -aq --filter "label=rootresume.instance=$memory_instance")
  if [ -n "$containers" ]; then
    say "removing $(echo "$containers" | wc -l) container(s) of $memory_instance"
    echo "$containers" | xargs docker rm -f >/dev/null
  fi
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

dirty=$(git status --porcelain -- server app frontend protocol 2>/dev/null | wc -l)
say "building at commit $(git rev-parse --short HEAD 2>/dev/null || echo '?') ($dirty file(s) of server, app, frontend, protocol changed since): the release site (into $work/site), the release server and the bench"
# The site goes to a folder of its own, so target/site (which other runs serve) is not touched.
LEPTOS_SITE_ROOT=$work/site scripts/build-site.sh --release --frontend-only
cargo build --release -p server -p rootresume-bench
# A copy: a later build elsewhere may replace the target's binary while the cluster restarts one.
cp "$target/release/server" "$RR_CLUSTER_BIN"
bench=$target/release/rootresume-bench

failed=0
run() {
  local log=$1
  shift
  "$bench" --cluster --scratch "$work/logs" "$@" 2>&1 | tee "$work/$log.txt" || failed=1
}

say "cluster with the default warm pool: echo, page → prompt, takeover"
scripts/cluster.sh up
run pool-on --phases echo,prompt,takeover --reconnect browser,eager \
  --label "warm pool on (4 per replica)" "$@"
cluster_down

say "cluster without a warm pool: page → prompt"
ROOTRESUME_SESSIONS_POOL_SIZE=0 scripts/cluster.sh up
run pool-off --phases prompt --label "no warm pool" "$@"
cluster_down

say "one server, in-memory store then Redis: RSS per idle session"
run memory --phases memory --server "$RR_CLUSTER_BIN" --site-root "$RR_CLUSTER_SITE_ROOT" \
  --instance "$memory_instance" "$@"

say "summaries in $work/pool-on.txt, pool-off.txt and memory.txt"
exit "$failed"
