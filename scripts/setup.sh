#!/usr/bin/env bash
# Installs and starts whatever RootResume needs that this machine lacks, and says what it did.
# Sourced by run.sh and test.sh (so PATH changes carry over); can also be run on its own.
#   scripts/setup.sh          what the site needs
#   scripts/setup.sh --test   plus what the tests need (Chromium, and what the cluster needs)
#   scripts/setup.sh --cluster  plus what scripts/cluster.sh needs (redis-server, haproxy)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
say() { printf '\033[1m[setup %s]\033[0m %s\n' "$(date +%T)" "$*"; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    say "missing: $* — install with: sudo apt-get install $*"
    return 1
  fi
  say "installing $* (apt)"
  if [ -z "${RR_SETUP_APT_UPDATED:-}" ]; then
    apt-get update -qq
    export RR_SETUP_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_docker() {
  command -v docker >/dev/null && command -v dockerd >/dev/null || apt_install docker.io
  if docker info >/dev/null 2>&1; then
    say "Docker engine: answering"
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    say "no Docker engine answers: start it (sudo systemctl start docker) or add yourself to the docker group"
    return 1
  fi
  # Sandboxes run without a network, so the engine needs no bridge or iptables rules.
  say "Docker engine: not running, starting dockerd in the background (log: /var/log/rootresume-dockerd.log)"
  # It outlives this shell, so not in this shell's temporary folder: containerd makes each
  # container's console socket under $TMPDIR, and once a caller's own folder is gone (a fresh
  # machine's measurement removes its own) every start fails with "console socket: no such file".
  env -u TMPDIR nohup dockerd --bridge=none --iptables=false >/var/log/rootresume-dockerd.log 2>&1 &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && { say "Docker engine: started"; return; }
    sleep 0.5
  done
  tail -20 /var/log/rootresume-dockerd.log >&2
  say "dockerd did not come up"
  return 1
}

ensure_rust_tools() {
  rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown \
    || { say "adding the wasm32-unknown-unknown target"; rustup target add wasm32-unknown-unknown; }
  # Nothing else: wasm-bindgen is the workspace's own (bindgen/), built by scripts/build-site.sh.
}

ensure_npm() {
  command -v npm >/dev/null || apt_install nodejs npm
  if [ ! -d node_modules/@xterm/xterm ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm packages (xterm.js, Playwright, binaryen's wasm-opt, esbuild)"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null
  fi
}

ensure_sandbox_image() {
  local image=${ROOTRESUME_SANDBOX_IMAGE:-rootresume-sandbox:latest} source have
  # Rebuild whenever anything under sandbox/ changed since the image was built.
  source=$(find sandbox -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
  have=$(docker image inspect -f '{{index .Config.Labels "rootresume.source"}}' "$image" 2>/dev/null || true)
  if [ "$have" = "$source" ]; then
    say "sandbox image $image: up to date"
    return
  fi
  command -v debootstrap >/dev/null || apt_install debootstrap || true
  # Mostly downloads and unpacking: built in the background while the tools below compile.
  RR_SANDBOX_IMAGE_LOG=$(mktemp "${TMPDIR:-/tmp}/rootresume-sandbox-image.XXXXXX")
  say "building the sandbox image $image in the background (log: $RR_SANDBOX_IMAGE_LOG)"
  ROOTRESUME_SANDBOX_SOURCE=$source scripts/build-sandbox-image.sh "$image" >"$RR_SANDBOX_IMAGE_LOG" 2>&1 &
  RR_SANDBOX_IMAGE_PID=$!
}

# Waits for the sandbox image ensure_sandbox_image started, if any; fails if its build failed.
wait_sandbox_image() {
  [ -n "${RR_SANDBOX_IMAGE_PID:-}" ] || return 0
  say "waiting for the sandbox image build"
  local status=0
  wait "$RR_SANDBOX_IMAGE_PID" || status=$?
  RR_SANDBOX_IMAGE_PID=
  if [ "$status" != 0 ]; then
    tail -n 30 "$RR_SANDBOX_IMAGE_LOG" >&2
    say "the sandbox image did not build (log: $RR_SANDBOX_IMAGE_LOG)"
    return 1
  fi
  say "sandbox image: $(tail -n 1 "$RR_SANDBOX_IMAGE_LOG")"
  rm -f "$RR_SANDBOX_IMAGE_LOG"
}

ensure_docker
# Optional gVisor runtime, so the attack suite also runs under runsc (ROOTRESUME_SETUP_RUNSC=0 skips).
if [ "${ROOTRESUME_SETUP_RUNSC:-1}" != 0 ]; then
  source scripts/setup-runsc.sh
  ensure_runsc || true
fi
ensure_sandbox_image
ensure_rust_tools
ensure_npm
if [ "${1:-}" = "--test" ]; then
  command -v chromium >/dev/null || apt_install chromium
fi
if [ "${1:-}" = "--test" ] || [ "${1:-}" = "--cluster" ]; then
  # scripts/cluster.sh runs its own redis-server and haproxy processes, never the packages' services.
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server redis-tools
  # haproxy also runs the bundled socket proxy (deploy/docker-proxy/haproxy.cfg) in the tests.
  command -v haproxy >/dev/null || apt_install haproxy
  command -v curl >/dev/null || apt_install curl
  # scripts/engine2.sh makes the second engine's TLS certificates with it.
  command -v openssl >/dev/null || apt_install openssl
fi
# Callers that build before they need the image (run.sh, test.sh) set RR_SETUP_IMAGE_LATER=1 and
# call wait_sandbox_image themselves; everyone else gets it ready now.
[ "${RR_SETUP_IMAGE_LATER:-}" = 1 ] || wait_sandbox_image
say "ready"
