# The server's own image: a slim Debian with the server binary, the site and the xterm.js files.
# Two ways to build it, both on the same `runtime` stage:
#
#   docker build -t rootresume-server .
#       The full, portable build, for anyone: the `builder` stage installs Rust and runs
#       `scripts/build-site.sh --release` from zero (about 11 minutes on
#       2 cores). It needs only an engine that reaches the internet (debian:bookworm-slim, apt,
#       rustup, npm).
#       scripts/build-server-image.sh runs this same build, picking the base and reusing the
#       host's tools.
#   scripts/build-server-image.sh --from-host
#       The path CI checks (scripts/test-server-image.sh, run by scripts/test.sh): the host runs
#       `scripts/build-site.sh --release` and only the `from-host` stage is built, from its output.
#       Taken only on a Debian bookworm host, whose binary runs on this base; elsewhere the
#       script makes the full build instead.
#
# The server needs the Docker engine to start visitors' sandboxes: see compose.yaml and
# docs/DEPLOY.md.

ARG BASE=debian:bookworm-slim

# Everything the image is but its files; both ways of building it start from here.
FROM ${BASE} AS runtime
WORKDIR /app
ENV LEPTOS_SITE_ROOT=site \
    LEPTOS_OUTPUT_NAME=rootresume \
    LEPTOS_SITE_ADDR=0.0.0.0:3000 \
    LEPTOS_ENV=PROD \
    ROOTRESUME_LOG_FORMAT=json
EXPOSE 3000
# SIGTERM ends (or, with ROOTRESUME_ON_SHUTDOWN=keep, leaves) visitors' sandboxes cleanly.
STOPSIGNAL SIGTERM
CMD ["/app/server"]

# The host's release build: `docker build --target from-host --build-arg PREBUILT=.docker-prebuilt`
# with the binary as .docker-prebuilt/server, the site as .docker-prebuilt/site/ and xterm.js as
# .docker-prebuilt/node_modules/@xterm/ (scripts/build-server-image.sh --from-host does it all).
# The classic builder (no BuildKit) builds every stage before its target, so the default build
# runs this stage too (BuildKit skips it): with PREBUILT left as it is, it copies one small file
# and nothing uses it (the label lets a test build remove that unused image).
FROM runtime AS from-host
ARG PREBUILT=rust-toolchain.toml
COPY ${PREBUILT} /app/
LABEL rootresume.stage=from-host

FROM ${BASE} AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gcc libc6-dev pkg-config nodejs npm \
 && rm -rf /var/lib/apt/lists/*
ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:$PATH \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
WORKDIR /src
# What the build script passes in .docker-tools/: the host's CA bundle (so downloads work behind
# a TLS-inspecting proxy the host trusts). Optional, the folder too (the pattern may match
# nothing; rust-toolchain.toml is there so the classic builder has a file to copy).
COPY rust-toolchain.toml .docker-tool[s] /opt/host/
RUN if [ -f /opt/host/ca-certificates.crt ]; then cat /opt/host/ca-certificates.crt >> /etc/ssl/certs/ca-certificates.crt; fi
# The toolchain named by rust-toolchain.toml, with the wasm target.
COPY rust-toolchain.toml ./
RUN curl -sSf -o /tmp/rustup-init "https://static.rust-lang.org/rustup/dist/$(uname -m)-unknown-linux-gnu/rustup-init" \
 && chmod +x /tmp/rustup-init && /tmp/rustup-init -y --profile minimal --default-toolchain none \
 && rm /tmp/rustup-init && rustup toolchain install
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN scripts/build-site.sh --release
# Names the builder stage's own (untagged) image, so a test build can remove it afterwards.
LABEL rootresume.stage=builder

# The default image: the builder's output on the runtime above.
FROM runtime
COPY --from=builder /src/target/release/server /app/server
COPY --from=builder /src/target/site /app/site
COPY --from=builder /src/node_modules/@xterm /app/node_modules/@xterm
