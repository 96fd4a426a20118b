#!/usr/bin/env bash
# A second Docker engine on this machine, beside the default one: its own socket, data-root,
# exec-root and pidfile, started like the default (no bridge, no iptables), with the sandbox image
# loaded from the default engine. The multi-engine tests, scripts/test.sh and scripts/cluster.sh
# use it.
#
#   scripts/engine2.sh up       start it if it is not running, and load the sandbox image
#   scripts/engine2.sh stop     stop the daemon (its state and image stay), as an engine failure
#   scripts/engine2.sh start    start the stopped daemon again
#   scripts/engine2.sh down     stop it and remove everything it made (containers, state, image)
#   scripts/engine2.sh socket   print its endpoint (unix://…)
#   scripts/engine2.sh tls      print its mutual-TLS endpoint and the folder holding the client's
#                               ca.pem, cert.pem and key.pem (made with openssl at the first up)
#
# RR_ENGINE2_DIR       where its sockets, pidfile, certificates, state and log live
#                      (default /var/tmp/rootresume-engine2)
# RR_ENGINE2_TLS_PORT  loopback port of its TLS endpoint (23761)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dir=${RR_ENGINE2_DIR:-/var/tmp/rootresume-engine2}
sock=$dir/docker.sock
pidfile=$dir/docker.pid
image=${ROOTRESUME_SANDBOX_IMAGE:-rootresume-sandbox:latest}
tls_port=${RR_ENGINE2_TLS_PORT:-23761}
tls=$dir/tls

say() { printf '\033[1m[engine2]\033[0m %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }
running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
answers() { docker -H "unix://$sock" version >/dev/null 2>&1; }

# A CA of its own, the engine's certificate for 127.0.0.1 and a client certificate, as Docker's
# "Protect the Docker daemon socket" describes; made once, kept with the engine's state.
make_certificates() {
  [ -f "$tls/key.pem" ] && return 0
  mkdir -p "$tls"
  (
    cd "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 3650 \
      -subj /CN=rootresume-engine2-ca 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj /CN=127.0.0.1 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server-cert.pem \
      -days 3650 -extfile server.ext 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout key.pem -out client.csr -subj /CN=rootresume 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem \
      -days 3650 -extfile client.ext 2>/dev/null
    rm -f ./*.csr ./*.ext ca.srl
    chmod 600 ./*key.pem
  )
}

start() {
  running && answers && return 0
  # containerd's socket goes under the exec-root, and a Unix socket's path holds 107 bytes at
  # most: past that the engine only times out waiting for containerd.
  local containerd=$dir/exec/containerd/containerd.sock
  [ "${#containerd}" -le 107 ] \
    || die "RR_ENGINE2_DIR is too long for a socket path (${#containerd} bytes in $containerd; at most 107): choose a shorter folder"
  mkdir -p "$dir/data" "$dir/exec"
  make_certificates
  # Its own containerd namespace and socket come with the data-root; no bridge and no iptables,
  # like the default engine here (sandboxes have no network anyway).
  nohup dockerd -H "unix://$sock" -H "tcp://127.0.0.1:$tls_port" \
    --tlsverify --tlscacert "$tls/ca.pem" --tlscert "$tls/server-cert.pem" --tlskey "$tls/server-key.pem" \
    --data-root "$dir/data" --exec-root "$dir/exec" \
    --pidfile "$pidfile" --bridge=none --iptables=false --ip6tables=false \
    --containerd-namespace rootresume-engine2 --containerd-plugins-namespace rootresume-engine2-plugins \
    >>"$dir/dockerd.log" 2>&1 &
  for _ in $(seq 100); do answers && return 0; sleep 0.2; done
  tail -20 "$dir/dockerd.log" >&2
  die "the second engine did not come up (log: $dir/dockerd.log)"
}

stop() {
  running || return 0
  local pid
  pid=$(cat "$pidfile")
  kill "$pid"
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
}

case ${1:-} in
  up)
    start
    # The same image as the default engine's (loaded again when that one was rebuilt).
    want=$(docker image inspect -f '{{.Id}}' "$image") || die "the default engine has no $image (scripts/build-sandbox-image.sh)"
    have=$(docker -H "unix://$sock" image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
    if [ "$want" != "$have" ]; then
      say "loading $image into the second engine"
      docker save "$image" | docker -H "unix://$sock" load -q >/dev/null
    fi
    # Both read /etc/docker/daemon.json: the same runtimes (gVisor when registered).
    say "up at unix://$sock"
    ;;
  stop) stop ;;
  start) start ;;
  down)
    if running; then
      docker -H "unix://$sock" ps -aq --filter label=rootresume.session | xargs -r docker -H "unix://$sock" rm -f >/dev/null || true
    fi
    stop
    # Mounts under the exec-root may outlive the daemon by a moment.
    umount -R "$dir/exec" 2>/dev/null || true
    rm -rf "$dir"
    ;;
  socket) echo "unix://$sock" ;;
  tls) echo "tcp://127.0.0.1:$tls_port $tls" ;;
  *) die "usage: scripts/engine2.sh up|stop|start|down|socket|tls" ;;
esac
