#!/usr/bin/env bash
# Builds the server's image (./Dockerfile) and prints its size. The base is debian:bookworm-slim
# when the engine has it or can pull it, else the one bootstrapped here from Debian packages (as
# for the sandbox image). The host's cargo-leptos and wasm-bindgen go into the build when the
# host runs the same Debian release, so the builder does not compile them again.
# Usage: scripts/build-server-image.sh [IMAGE]   (default: rootresume-server:latest)
set -euo pipefail
cd "$(dirname "$0")/.."
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

rm -rf .docker-tools && mkdir -p .docker-tools
if grep -q '^VERSION_CODENAME=bookworm$' /etc/os-release 2>/dev/null; then
  for tool in cargo-leptos wasm-bindgen; do
    if path=$(command -v "$tool"); then cp "$path" .docker-tools/; fi
  done
fi
# The host's CA bundle: downloads in the build then work behind a TLS-inspecting proxy the host
# trusts.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt .docker-tools/
fi
trap 'rm -rf .docker-tools' EXIT

echo "building $image from $base (from the host: $(ls .docker-tools | tr '\n' ' '))"
started=$(date +%s)
docker build --network host --build-arg "BASE=$base" -t "$image" .
echo "built $image in $(( $(date +%s) - started )) s: $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.1f MB", $1/1e6}')"
