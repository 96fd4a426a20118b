#!/usr/bin/env bash
# Sets up whatever is missing, then runs the site with live reload on http://127.0.0.1:3000.
#   scripts/run.sh             development (cargo leptos watch)
#   scripts/run.sh --release   optimised build (cargo leptos serve --release)
set -euo pipefail
source "$(dirname "$0")/setup.sh"
if [ "${1:-}" = "--release" ]; then
  exec cargo leptos serve --release
fi
exec cargo leptos watch
