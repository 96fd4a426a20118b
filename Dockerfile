# The server's own image: the site is built with cargo-leptos in a builder stage, and a slim
# Debian ships the server binary, the site and the xterm.js files.
#
#   scripts/build-server-image.sh            (picks the base and reuses tools; see there)
#   docker build -t rootresume-server .      (on a machine that can pull debian:bookworm-slim)
#
# The server needs the Docker engine to start visitors' sandboxes: see compose.yaml and
# docs/DEPLOY.md.

ARG BASE=debian:bookworm-slim

FROM ${BASE} AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gcc libc6-dev pkg-config nodejs npm \
 && rm -rf /var/lib/apt/lists/*
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:$PATH \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
WORKDIR /src
# What the build script passes in .docker-tools/: the host's CA bundle (so downloads work behind
# a TLS-inspecting proxy the host trusts) and, when built for the same Debian, the host's
# cargo-leptos and wasm-bindgen. Everything in it is optional.
COPY .docker-tools/ /opt/host/
RUN if [ -f /opt/host/ca-certificates.crt ]; then cat /opt/host/ca-certificates.crt >> /etc/ssl/certs/ca-certificates.crt; fi
# The toolchain named by rust-toolchain.toml, with the wasm target.
COPY rust-toolchain.toml ./
RUN curl -sSf -o /tmp/rustup-init "https://static.rust-lang.org/rustup/dist/$(uname -m)-unknown-linux-gnu/rustup-init" \
 && chmod +x /tmp/rustup-init && /tmp/rustup-init -y --profile minimal --default-toolchain none \
 && rm /tmp/rustup-init && rustup toolchain install
# cargo-leptos and wasm-bindgen-cli (at the version of the wasm-bindgen crate in Cargo.lock):
# the host's copies when given, else compiled here once (~30 min on 2 cores, kept as a layer).
RUN for tool in cargo-leptos wasm-bindgen; do \
      if [ -x "/opt/host/$tool" ]; then cp "/opt/host/$tool" /usr/local/cargo/bin/; fi; done
COPY Cargo.lock ./
RUN command -v cargo-leptos || cargo install cargo-leptos --version 0.3.10 --locked
RUN want=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p') \
 && if wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $want"; then echo "wasm-bindgen $want present"; \
    else cargo install wasm-bindgen-cli --version "$want"; fi
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN PATH="/src/node_modules/.bin:$PATH" cargo leptos build --release
# Names the builder stage's own (untagged) image, so a test build can remove it afterwards.
LABEL rootresume.stage=builder

FROM ${BASE}
WORKDIR /app
COPY --from=builder /src/target/release/server /app/server
COPY --from=builder /src/target/site /app/site
COPY --from=builder /src/node_modules/@xterm /app/node_modules/@xterm
ENV LEPTOS_SITE_ROOT=site \
    LEPTOS_OUTPUT_NAME=rootresume \
    LEPTOS_SITE_ADDR=0.0.0.0:3000 \
    LEPTOS_ENV=PROD \
    ROOTRESUME_LOG_FORMAT=json
EXPOSE 3000
# SIGTERM ends (or, with ROOTRESUME_ON_SHUTDOWN=keep, leaves) visitors' sandboxes cleanly.
STOPSIGNAL SIGTERM
CMD ["/app/server"]
