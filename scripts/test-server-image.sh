#!/usr/bin/env bash
# Builds the server image and checks it serves the site: pages, the WASM bundle, xterm.js,
# /healthz and /readyz (engine reachable through the mounted socket, sandbox image present), and
# that `docker stop` (SIGTERM) ends it cleanly, leaving no labelled container.
#
# The image is built from the host's build (scripts/build-server-image.sh --from-host: with
# ROOTRESUME_IMAGE_SERVER=debug set here, the debug server and site the end-to-end tests built,
# then the Dockerfile's from-host stage), which is what CI checks; where the host cannot
# (not Debian bookworm), the build script makes the full build.
# --full makes the full, portable build (`docker build .`: the builder stage compiles everything
# from zero inside Docker, ~11 minutes on 2 cores) whatever the host.
# Usage: scripts/test-server-image.sh [--full] [IMAGE]   (with IMAGE: test that image, do not build)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=--from-host
if [ "${1:-}" = "--full" ]; then
  mode=
  shift
fi
built=
if [ $# -ge 1 ]; then
  image=$1
else
  image=rootresume-server:test
  built=1
  ROOTRESUME_IMAGE_SERVER=${ROOTRESUME_IMAGE_SERVER:-debug} scripts/build-server-image.sh ${mode:+"$mode"} "$image"
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
instance="image-test-$$"
name="rootresume-image-test-$$"
# Host networking: the engine here has no bridge; the server needs no network of its own but
# the port it serves.
docker run -d --name "$name" --network host \
  --label rootresume.session=server-image-test \
  -v /var/run/docker.sock:/var/run/docker.sock \
  -e LEPTOS_SITE_ADDR="127.0.0.1:$port" -e ROOTRESUME_INSTANCE="$instance" \
  -e ROOTRESUME_SESSIONS_POOL_SIZE=1 \
  "$image" >/dev/null
cleanup() {
  docker rm -f "$name" >/dev/null 2>&1 || true
  # An image this test built is not kept on the user's disk: neither it nor, after a full build,
  # its builder stage (about 1.5 GB each time) and its unused from-host stage.
  if [ -n "$built" ]; then
    docker rmi -f "$image" >/dev/null 2>&1 || true
    docker image prune -f --filter label=rootresume.stage=builder >/dev/null 2>&1 || true
    docker image prune -f --filter label=rootresume.stage=from-host >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
fail() { echo "server image: $*" >&2; docker logs "$name" 2>&1 | tail -20 >&2; exit 1; }
# Each answer is read whole before it is searched: `grep -q` stops at the first match, and under
# pipefail curl's write into the closed pipe (a page longer than the pipe's buffer) fails the
# line although the page is fine.
answer() { curl -fsS "$base$1" || fail "$1 did not answer"; }
grep -qx ok <<<"$(answer /healthz)" || fail "/healthz did not answer ok"
grep -q "<title>" <<<"$(answer /)" || fail "the home page did not render"
grep -q "^ready" <<<"$(answer /readyz)" || fail "/readyz: $(curl -sS "$base/readyz")"
curl -fsS -o /dev/null "$base/pkg/rootresume.wasm" || fail "the WASM bundle is not served"
curl -fsS -o /dev/null "$base/vendor/xterm/lib/xterm.mjs" || fail "xterm.js is not served"
# The warm pool proves the server drives the engine from inside its container.
for _ in $(seq 1 100); do
  [ "$(docker ps -q --filter label=rootresume.instance="$instance" | wc -l)" -ge 1 ] && break; sleep 0.2
done
[ "$(docker ps -q --filter label=rootresume.instance="$instance" | wc -l)" -ge 1 ] \
  || fail "no pooled sandbox was started from inside the container"

started=$(date +%s%N)
docker stop -t 30 "$name" >/dev/null
took=$(( ($(date +%s%N) - started) / 1000000 ))
[ "$(docker inspect -f '{{.State.ExitCode}}' "$name")" = 0 ] || fail "exited with $(docker inspect -f '{{.State.ExitCode}}' "$name")"
left=$(docker ps -aq --filter label=rootresume.instance="$instance" | wc -l)
[ "$left" = 0 ] || fail "$left sandbox container(s) left after docker stop"
size=$(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.1f MB", $1/1e6}')
echo "server image OK: $size, served the site, stopped in ${took} ms leaving no sandbox"
