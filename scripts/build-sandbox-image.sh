#!/usr/bin/env bash
# Builds the image visitors' shells run in (sandbox/Dockerfile) and says which base it used:
# a Debian image already in the engine, one pulled from a registry, or — when neither is
# possible — one bootstrapped here from Debian packages.
# Usage: scripts/build-sandbox-image.sh [IMAGE]   (default: rootresume-sandbox:latest)
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-${ROOTRESUME_SANDBOX_IMAGE:-rootresume-sandbox:latest}}
official=debian:bookworm-slim
local_base=rootresume-base:bookworm

if docker image inspect "$official" >/dev/null 2>&1; then
  base=$official; how="the engine's $official"
elif timeout 60 docker pull -q "$official" >/dev/null 2>&1; then
  base=$official; how="$official pulled from the registry"
elif docker image inspect "$local_base" >/dev/null 2>&1; then
  base=$local_base; how="$local_base, bootstrapped earlier from Debian packages"
else
  echo "no registry reachable: bootstrapping a Debian base image with debootstrap (a few minutes)"
  scripts/bootstrap-base-image.sh "$local_base"
  base=$local_base; how="$local_base, just bootstrapped from Debian packages"
fi

echo "building $image from $how"
previous=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
docker build --network host -q --build-arg "BASE=$base" \
  --label "rootresume.source=${ROOTRESUME_SANDBOX_SOURCE:-unknown}" -t "$image" sandbox >/dev/null
# The image this one replaces would stay on the disk, nameless: remove it (one a container still
# uses stays until that container goes).
if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect -f '{{.Id}}' "$image")" ]; then
  docker image rm "$previous" >/dev/null 2>&1 || true
fi
echo "built $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
