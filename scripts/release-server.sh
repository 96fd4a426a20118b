# Sourced by the measuring scripts: runs the release build of the site (scripts/build-site.sh
# --release) in production mode on 127.0.0.1:PORT, and waits until it answers. Extra ROOTRESUME_* settings can
# be given in the caller's environment. Sets $release_server to the server's pid.
# Usage: start_release_server PORT POOL_SIZE INSTANCE
start_release_server() {
  local port=$1 pool=$2 instance=$3
  LEPTOS_OUTPUT_NAME=rootresume LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg \
    LEPTOS_SITE_ADDR=127.0.0.1:$port LEPTOS_ENV=PROD RUST_LOG=warn \
    ROOTRESUME_SESSIONS_POOL_SIZE=$pool ROOTRESUME_INSTANCE=$instance \
    "${CARGO_TARGET_DIR:-target}/release/server" &
  release_server=$!
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.2; done
}
