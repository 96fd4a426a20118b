#!/usr/bin/env bash
# Sets up whatever is missing, builds the site, then serves it on http://127.0.0.1:3000.
#   scripts/run.sh             debug build
#   scripts/run.sh --release   optimised build, served in production mode
# For live reload while editing, install cargo-leptos (`cargo install cargo-leptos --locked`,
# about 20 minutes to compile) and run `cargo leptos watch`: Cargo.toml holds its settings.
set -euo pipefail
RR_SETUP_IMAGE_LATER=1 source "$(dirname "$0")/setup.sh"
profile=debug
if [ "${1:-}" = "--release" ]; then
  profile=release
  export LEPTOS_ENV=PROD
fi
scripts/build-site.sh ${1:+"$1"}
wait_sandbox_image
say "serving http://127.0.0.1:3000 (Ctrl-C stops the server, which removes its sandboxes)"
export LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg LEPTOS_SITE_ADDR=${LEPTOS_SITE_ADDR:-127.0.0.1:3000}
exec "${CARGO_TARGET_DIR:-target}/$profile/server"
