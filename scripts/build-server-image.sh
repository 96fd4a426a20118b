#!/usr/bin/env bash
# Builds the server's image (./Dockerfile) and prints its size. The base is debian:bookworm-slim
# when the engine has it or can pull it, else the one bootstrapped here from Debian packages (as
# for the sandbox image).
#
# By default the full build: Docker compiles the site from zero in the Dockerfile's builder
# stage.
#
# --from-host (what scripts/test-server-image.sh, and so CI, uses): `scripts/build-site.sh
# --release` runs on the host (in $CARGO_TARGET_DIR when set), and only the Dockerfile's
# `from-host` stage is built, from the binary, the site and xterm.js copied into .docker-prebuilt/
# (removed afterwards). Taken only on a Debian bookworm host, the base's release, whose binary
# links against a glibc the base has; the image is then checked to start the binary. Anywhere
# else, or when the host lacks the npm packages, it says so and makes the full
# build. ROOTRESUME_IMAGE_SERVER=debug puts the host's debug build in it, the server and the site
# (the tests do: the image's checks do not depend on optimisation, and a fresh machine saves the
# release compiles of the server and the WASM, about six and two minutes).
# Usage: scripts/build-server-image.sh [--from-host] [IMAGE]   (default: rootresume-server:latest)
set -euo pipefail
cd "$(dirname "$0")/.."
from_host=
if [ "${1:-}" = "--from-host" ]; then
  from_host=1
  shift
fi
image=${1:-rootresume-server:latest}
official=debian:bookworm-slim
local_base=rootresume-base:bookworm

if docker image inspect "$official" >/dev/null 2>&1; then
  base=$official
elif timeout 60 docker pull -q "$official" >/dev/null 2>&1; then
  base=$official
else
  docker image inspect "$local_base" >/dev/null 2>&1 || scripts/bootstrap-base-image.sh "$local_base"
  base=$local_base
fi

size() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.1f MB", $1/1e6}'; }
on_bookworm() { grep -q '^VERSION_CODENAME=bookworm$' /etc/os-release 2>/dev/null; }

# Whether --from-host can be taken here; says why not when it cannot.
host_build_possible() {
  if ! on_bookworm; then
    echo "--from-host: the host is not Debian bookworm like the image's base, so its binary may need a newer glibc than the base has: making the full build instead"
    return 1
  fi
  if [ ! -d node_modules/@xterm/xterm ]; then
    echo "--from-host: no node_modules/@xterm here (scripts/setup.sh installs them): making the full build instead"
    return 1
  fi
}

export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
trap 'rm -rf .docker-prebuilt .docker-tools' EXIT

if [ -n "$from_host" ] && host_build_possible; then
  prebuilt=.docker-prebuilt
  rm -rf "$prebuilt" && mkdir -p "$prebuilt/node_modules"
  server=${ROOTRESUME_IMAGE_SERVER:-release}
  echo "--from-host: the $server site and server (target dir ${CARGO_TARGET_DIR:-target}, site into $prebuilt/site)"
  started=$(date +%s)
  # The site goes straight into the build context rather than to target/site, which a
  # developer's build or a test run may be writing meanwhile; the binary does not depend on where.
  case "$server" in
    release) LEPTOS_SITE_ROOT="$PWD/$prebuilt/site" scripts/build-site.sh --release ;;
    debug)
      LEPTOS_SITE_ROOT="$PWD/$prebuilt/site" scripts/build-site.sh --frontend-only
      cargo build --package server --bin server
      ;;
    *) echo "ROOTRESUME_IMAGE_SERVER is release or debug, not $server" >&2; exit 2 ;;
  esac
  echo "--from-host: built on the host in $(( $(date +%s) - started )) s"
  cp "${CARGO_TARGET_DIR:-target}/$server/server" "$prebuilt/server"
  cp -r node_modules/@xterm "$prebuilt/node_modules/"
  echo "building $image from $base: the from-host stage, with the host's build"
  started=$(date +%s)
  docker build --network host --build-arg "BASE=$base" --build-arg "PREBUILT=$prebuilt" \
    --target from-host -t "$image" .
  rm -rf "$prebuilt"
  # The binary must load in the image (its shared libraries, their glibc version); `--help`
  # needs nothing else.
  if docker run --rm --network none "$image" /app/server --help >/dev/null; then
    echo "built $image from the host's build ($server server) in $(( $(date +%s) - started )) s: $(size "$image")"
    exit 0
  fi
  docker rmi -f "$image" >/dev/null 2>&1 || true
  echo "--from-host: the host's binary does not run in the image: making the full build instead"
fi

rm -rf .docker-tools && mkdir -p .docker-tools
# The host's CA bundle: downloads in the build then work behind a TLS-inspecting proxy the host
# trusts.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt .docker-tools/
fi

echo "building $image from $base, the full build (from the host: $(find .docker-tools -mindepth 1 -printf '%f '))"
started=$(date +%s)
docker build --network host --build-arg "BASE=$base" -t "$image" .
echo "built $image in $(( $(date +%s) - started )) s: $(size "$image")"
