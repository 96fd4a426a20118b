#!/usr/bin/env bash
# Builds a minimal Debian base image from Debian packages and imports it into the local engine.
# Used when the engine has no Debian base image and cannot pull one (no registry reachable).
# Usage: scripts/bootstrap-base-image.sh IMAGE_NAME
set -euo pipefail
name=${1:?usage: bootstrap-base-image.sh IMAGE_NAME}
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }
root=$(mktemp -d /tmp/rootresume-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$root.log" 2>&1 \
  || { tail -20 "$root.log" >&2; echo "debootstrap failed (log: $root.log)" >&2; exit 1; }
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import - "$name" >/dev/null
rm -f "$root.log"
echo "imported $name from a debootstrap of Debian bookworm"
