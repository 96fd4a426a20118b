#!/usr/bin/env bash
# Sets up whatever is missing, then runs every test: formatting and lints, unit and integration
# tests against the real Docker engine, and the Playwright suite in Chromium. Fails if any
# container labelled rootresume.session is left behind.
set -euo pipefail
# The sandbox image builds in the background meanwhile; waited for before the first test needs it.
RR_SETUP_IMAGE_LATER=1 source "$(dirname "$0")/setup.sh" --test

count_labelled() { docker ps -aq --filter label=rootresume.session | wc -l; }
before=$(count_labelled)
say "labelled containers before the suite: $before"

step() { printf '\n\033[1m== %s\033[0m (%s)\n' "$*" "$(date +%T)"; }
step "cargo fmt --check"
cargo fmt --all -- --check
step "the tests' build, linted: Clippy on the workspace's crates, warnings denied"
# Every build below (the tests, the bench, the site's server, WASM and bindgen) compiles the
# workspace's crates through Clippy: the browser side is linted for wasm32 by scripts/build-site.sh.
RUSTC_WORKSPACE_WRAPPER="$PWD/scripts/clippy-rustc"
export RUSTC_WORKSPACE_WRAPPER
cargo test --workspace --exclude frontend --exclude site-bindgen --no-run
wait_sandbox_image
step "the bundled socket proxy (deploy/docker-proxy/haproxy.cfg) in front of the engine"
# Every server of the suite (tests, end-to-end, cluster) reaches the engine only through the same
# proxy compose.yaml runs, so the proxy is shown to allow all the server needs; its access log is
# checked for session ids at the end. Test code that inspects the engine goes to it directly.
proxy_dir=$(mktemp -d "${TMPDIR:-/tmp}/rootresume-proxy.XXXXXX")
proxy_log="$proxy_dir/access.log"
export ROOTRESUME_PROXY_BIND="127.0.0.1:${RR_PROXY_PORT:-23750}" ROOTRESUME_PROXY_ENGINE=/var/run/docker.sock
haproxy -db -f deploy/docker-proxy/haproxy.cfg >"$proxy_log" 2>&1 &
proxy_pid=$!
# shellcheck disable=SC2317  # run by the trap
stop_proxy() { kill "$proxy_pid" 2>/dev/null || true; wait "$proxy_pid" 2>/dev/null || true; rm -rf "$proxy_dir"; }
# shellcheck disable=SC2317  # run by the trap
on_exit() { stop_proxy; scripts/engine2.sh stop || true; }
trap on_exit EXIT
for _ in $(seq 50); do curl -fsS "http://$ROOTRESUME_PROXY_BIND/_ping" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://$ROOTRESUME_PROXY_BIND/_ping" >/dev/null || { cat "$proxy_log" >&2; say "the socket proxy did not start"; exit 1; }
export ROOTRESUME_DOCKER_HOST="tcp://$ROOTRESUME_PROXY_BIND"

step "a second Docker engine (scripts/engine2.sh) for the multi-engine tests"
# Stopped again at the end; its state and image stay for the next run, like the default engine's.
scripts/engine2.sh up
ROOTRESUME_TEST_ENGINE2=$(scripts/engine2.sh socket) ROOTRESUME_TEST_ENGINE2_TLS=$(scripts/engine2.sh tls)
export ROOTRESUME_TEST_ENGINE2 ROOTRESUME_TEST_ENGINE2_TLS

step "unit and integration tests (real Docker engine)"
# The setup registered gVisor unless told not to: then the attacks must run under it too.
if [ "${ROOTRESUME_SETUP_RUNSC:-1}" != 0 ]; then
  export ROOTRESUME_EXPECT_RUNTIMES=${ROOTRESUME_EXPECT_RUNTIMES:-runc,runsc}
fi
cargo test --workspace --exclude frontend --exclude site-bindgen  # the last has no tests (scripts/build-site.sh runs it)
cargo run -q -p rootresume-bench -- --smoke  # the benchmark tool still works (asserts nothing about speed)
scripts/engine2.sh stop  # the cluster step starts its own
step "Kubernetes: deploy/kubernetes and the sandbox Pod against the official schemas (offline)"
scripts/check-kubernetes.sh
step "end-to-end tests (Playwright, Chromium)"
# Short lifetimes so the close-the-tab test does not wait 30 s; the specs read the same values.
export ROOTRESUME_SESSIONS_GRACE_SECS=${ROOTRESUME_SESSIONS_GRACE_SECS:-3}
export ROOTRESUME_REAPER_INTERVAL_SECS=${ROOTRESUME_REAPER_INTERVAL_SECS:-5}
# Every tab of the suite comes from 127.0.0.1: lift the per-client limits (tested on their own).
export ROOTRESUME_SESSIONS_MAX_PER_CLIENT=100 ROOTRESUME_SESSIONS_RATE_BURST=1000
# A warm pool of 2 held at that size (the teardown counts on it; growth is tested in pool.rs),
# and a deployment name of its own so the suite counts only its containers.
export ROOTRESUME_SESSIONS_POOL_SIZE=2 ROOTRESUME_SESSIONS_POOL_MAX=2 ROOTRESUME_INSTANCE="e2e-$$"
scripts/build-site.sh
# Playwright starts that debug server and stops it with SIGTERM at the end (end2end/playwright.config.ts).
ROOTRESUME_E2E_NEW_SERVER=1 npx playwright test -c end2end

step "cluster (redis-server, 3 replicas, haproxy)"
# The debug build scripts/build-site.sh just made, on ports and under a name of its own; the spec kills
# replicas and restarts them through scripts/cluster.sh, which reads these same variables.
# Whatever happens, `down` stops every process and removes the instance's containers.
(
  export RR_CLUSTER_DIR="${TMPDIR:-/tmp}/rootresume-cluster-test-$$" RR_CLUSTER_INSTANCE="cluster-e2e-$$"
  export RR_CLUSTER_REDIS_PORT=6391 RR_CLUSTER_PORT=3101 RR_CLUSTER_LB_PORT=8180 RR_CLUSTER_REPLICAS=3
  export RR_CLUSTER_BIN="${CARGO_TARGET_DIR:-target}/debug/server" RR_CLUSTER_SITE_ROOT=target/site
  # shellcheck disable=SC2317  # run by the trap
  on_exit() {
    local status=$?
    if [ "$status" != 0 ]; then
      for part in redis $(scripts/cluster.sh replicas) haproxy; do
        say "the end of $part's log:"
        tail -n 25 "$(scripts/cluster.sh log "$part")" || true
      done
    fi
    scripts/cluster.sh down || exit 1
  }
  trap on_exit EXIT
  scripts/cluster.sh up
  npx playwright test -c end2end/cluster
)

step "server image (Dockerfile): builds, serves the site, stops cleanly"
# The engine answered at setup (the suite above needs it), so the image is always built here.
scripts/test-server-image.sh

step "the socket proxy's access log holds no session id"
creates=$(grep -c 'POST [^ ]*/containers/create?name=rootresume-' "$proxy_log" || true)
if [ "$creates" -eq 0 ]; then
  say "FAILED: the suite created no sandbox through the socket proxy"
  exit 1
fi
if grep -Eq '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' "$proxy_log"; then
  grep -E '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' "$proxy_log" | head -5 >&2
  say "FAILED: a session id reached the socket proxy's access log"
  exit 1
fi
refused=$(grep -c ' 403 ' "$proxy_log" || true)
say "socket proxy: $(wc -l <"$proxy_log") requests logged, $creates sandbox creations, $refused refused (the attack test's), no session id"

after=$(count_labelled)
say "labelled containers after the suite: $after"
# Fewer is fine (something else on the engine removed its own); more means a leak.
if [ "$after" -gt "$before" ]; then
  docker ps -a --filter label=rootresume.session >&2
  say "FAILED: the suite left $((after - before)) labelled container(s) behind"
  exit 1
fi
say "all tests passed"
