#!/usr/bin/env bash
# A local cluster on 127.0.0.1: one Redis, several replicas of the server sharing sessions
# through it, and HAProxy in front balancing them round-robin (no stickiness), so any replica
# may serve any tab and one can be killed to watch another take its tabs over.
#
#   scripts/cluster.sh up        start whatever part is not running (again: restarts a dead one)
#   scripts/cluster.sh status    each part with its pid and address, and whether it answers
#   scripts/cluster.sh down      stop everything, remove the instance's containers and the state
#   scripts/cluster.sh pid NAME  a running part's pid (NAME: redis, r1, r2, …, haproxy)
#   scripts/cluster.sh addr NAME its address (host:port)
#   scripts/cluster.sh log NAME  the path of its log
#   scripts/cluster.sh replicas  the replicas' names, one a line
#
# Settings (environment; `up` records them in the state folder, later commands read them there):
#   RR_CLUSTER_DIR        state: pids, logs, haproxy.cfg, redis.conf
#                         (default ${XDG_RUNTIME_DIR:-/tmp}/rootresume-cluster)
#   RR_CLUSTER_INSTANCE   `instance` of every replica, the label on their containers (cluster)
#   RR_CLUSTER_REDIS_PORT Redis port (6390)
#   RR_CLUSTER_PORT       first replica's port, the others follow (3001: r1 3001, r2 3002, …)
#   RR_CLUSTER_REPLICAS   how many replicas (3)
#   RR_CLUSTER_LB_PORT    HAProxy's port, the site's address (8080)
#   RR_CLUSTER_BIN        server binary to run; unset: `scripts/build-site.sh --release` and its binary
#   RR_CLUSTER_SITE_ROOT  site folder (pkg/, assets) of that build (default target/site)
#   RR_CLUSTER_ENGINES    Docker engines the replicas spread sandboxes over (2): the default
#                         one, and (2) a second engine started by scripts/engine2.sh in the
#                         state folder, with the sandbox image loaded; `down` removes it
#   RR_CLUSTER_ENGINE_CAPACITY  sessions per engine (100)
#   RR_CLUSTER_SETUP=0    do not look for missing prerequisites (default: when a fresh start
#                         misses one, source scripts/setup.sh --cluster to install or start it)
# Other ROOTRESUME_* variables in the environment reach every replica (e.g. the pool size);
# the cluster's own settings are given as flags, which win.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"

say() { printf '\033[1m[cluster]\033[0m %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }

dir=${RR_CLUSTER_DIR:-${XDG_RUNTIME_DIR:-/tmp}/rootresume-cluster}
settings_file=$dir/cluster.env
# name=default; the names are also the keys of cluster.env.
defaults=(
  RR_CLUSTER_INSTANCE=cluster
  RR_CLUSTER_REDIS_PORT=6390
  RR_CLUSTER_PORT=3001
  RR_CLUSTER_REPLICAS=3
  RR_CLUSTER_LB_PORT=8080
  RR_CLUSTER_BIN=
  RR_CLUSTER_SITE_ROOT=
  RR_CLUSTER_ENGINES=2
  RR_CLUSTER_ENGINE_CAPACITY=100
)

# The environment's values, kept apart from the settings in force (which load_settings sets).
declare -A from_env=()
for pair in "${defaults[@]}"; do
  key=${pair%%=*}
  if [ -n "${!key+set}" ]; then from_env[$key]=${!key}; fi
done

# Paths are recorded absolute; compare them so.
same_form() {
  case $1 in
    RR_CLUSTER_BIN | RR_CLUSTER_SITE_ROOT) realpath -m "$2" ;;
    *) echo "$2" ;;
  esac
}

# The settings a running cluster was started with win over the environment, so that `down`,
# `status` and a restarting `up` address the same processes. Sets $conflicts to the variables
# the environment sets differently.
load_settings() {
  local pair key value recorded
  conflicts=()
  for pair in "${defaults[@]}"; do
    key=${pair%%=*}
    value=${from_env[$key]-${pair#*=}}
    if [ -f "$settings_file" ]; then
      recorded=$(sed -n "s/^$key=//p" "$settings_file")
      if [ -n "${from_env[$key]:-}" ] && [ "$(same_form "$key" "${from_env[$key]}")" != "$recorded" ]; then
        conflicts+=("$key=${from_env[$key]} (it runs with ${recorded:-the default})")
      fi
      value=$recorded
    fi
    printf -v "$key" '%s' "$value"
  done
  instance=$RR_CLUSTER_INSTANCE
  redis_port=$RR_CLUSTER_REDIS_PORT
  lb_port=$RR_CLUSTER_LB_PORT
  replicas=()
  local i
  for ((i = 1; i <= RR_CLUSTER_REPLICAS; i++)); do replicas+=("r$i"); done
}

save_settings() {
  local pair key
  for pair in "${defaults[@]}"; do
    key=${pair%%=*}
    printf '%s=%s\n' "$key" "${!key}"
  done >"$settings_file"
}

validate_settings() {
  [[ $instance =~ ^[A-Za-z0-9._-]{1,63}$ ]] || die "RR_CLUSTER_INSTANCE=$instance: 1 to 63 letters, digits, '.', '_' or '-'"
  local port
  for port in "$RR_CLUSTER_REDIS_PORT" "$RR_CLUSTER_PORT" "$RR_CLUSTER_LB_PORT"; do
    if ! [[ $port =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then die "not a port: $port"; fi
  done
  [[ $RR_CLUSTER_REPLICAS =~ ^[1-9][0-9]?$ ]] || die "RR_CLUSTER_REPLICAS=$RR_CLUSTER_REPLICAS: 1 to 99"
  [[ $RR_CLUSTER_ENGINES =~ ^[12]$ ]] || die "RR_CLUSTER_ENGINES=$RR_CLUSTER_ENGINES: 1 or 2"
  [[ $RR_CLUSTER_ENGINE_CAPACITY =~ ^[1-9][0-9]*$ ]] || die "RR_CLUSTER_ENGINE_CAPACITY=$RR_CLUSTER_ENGINE_CAPACITY: a positive number"
}

# Every part's name, in starting order.
parts() { echo redis "${replicas[@]}" haproxy; }

addr_of() {
  case $1 in
    redis) echo "127.0.0.1:$redis_port" ;;
    haproxy) echo "127.0.0.1:$lb_port" ;;
    r[0-9]*)
      local n=${1#r}
      if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt "${#replicas[@]}" ]; then die "no part named $1 (parts: $(parts))"; fi
      echo "127.0.0.1:$((RR_CLUSTER_PORT + n - 1))"
      ;;
    *) die "no part named $1 (parts: $(parts))" ;;
  esac
}
port_of() { local a; a=$(addr_of "$1"); echo "${a##*:}"; }

# What a part's command line contains, to tell it from another process that got its pid.
needle_of() {
  case $1 in
    redis) echo "$dir/redis.conf" ;;
    haproxy) echo "$dir/haproxy.cfg" ;;
    *) echo "--store.replica=$1" ;;
  esac
}

# Whether command line $2 is part $1's. Redis renames itself once started.
is_part() {
  [[ $2 == *"$(needle_of "$1")"* ]] || { [ "$1" = redis ] && [[ $2 == "redis-server 127.0.0.1:$redis_port "* ]]; }
}

cmdline() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" || true; }

# Prints the pid of a part that is running (not a zombie, not a stranger); fails otherwise.
running_pid() {
  local part=$1 pid state
  pid=$(cat "$dir/$part.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] || return 1
  is_part "$part" "$(cmdline "$pid")" || return 1
  echo "$pid"
}

# Processes of this cluster whose pid file is lost (e.g. a start that failed half-way): the
# replicas carry this instance and port on their command line, HAProxy this state folder's config.
strays() {
  local proc pid line part
  for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    line=$(cmdline "$pid")
    [ -n "$line" ] || continue
    for part in "${replicas[@]}"; do
      if [[ $line == *"--instance=$instance --listen=$(addr_of "$part") $(needle_of "$part")"* ]]; then echo "$pid"; fi
    done
    if [[ $line == *"haproxy -f $dir/haproxy.cfg"* ]]; then echo "$pid"; fi
  done
  return 0
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Whether a part answers; prints a short description either way.
probe() {
  local part=$1 port body code
  port=$(port_of "$part")
  case $part in
    redis)
      body=$(timeout 2 redis-cli -h 127.0.0.1 -p "$port" ping 2>&1 || true)
      [ "$body" = PONG ] && { echo "answers PING"; return 0; }
      ;;
    haproxy)
      code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz" || true)
      [ "$code" = 200 ] && { echo "answers /healthz through a replica"; return 0; }
      body="HTTP ${code:-none}"
      ;;
    *)
      body=$(curl -s -m 2 "http://127.0.0.1:$port/healthz" || true)
      [ "$body" = ok ] && { echo "answers /healthz"; return 0; }
      ;;
  esac
  echo "does not answer${body:+ ($(echo "$body" | head -1 | cut -c1-60))}"
  return 1
}

# Waits until a part answers, or fails with the end of its log if it dies or takes too long.
await() {
  local part=$1 seconds=$2 i
  for ((i = 0; i < seconds * 5; i++)); do
    probe "$part" >/dev/null && return 0
    if ! running_pid "$part" >/dev/null; then
      tail -n 30 "$dir/$part.log" >&2 || true
      die "$part exited while starting (log: $dir/$part.log)"
    fi
    sleep 0.2
  done
  tail -n 30 "$dir/$part.log" >&2 || true
  die "$part did not answer within $seconds s (log: $dir/$part.log)"
}

# Installs or starts what is missing, through the project's setup (which needs root for apt).
ensure_prerequisites() {
  [ "${RR_CLUSTER_SETUP:-1}" != 0 ] || return 0
  local image=${ROOTRESUME_SANDBOX_IMAGE:-rootresume-sandbox:latest} missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v redis-cli >/dev/null || missing+=(redis-cli)
  command -v haproxy >/dev/null || missing+=(haproxy)
  docker info >/dev/null 2>&1 || missing+=("a running Docker engine")
  docker image inspect "$image" >/dev/null 2>&1 || missing+=("the sandbox image $image")
  [ -d node_modules/@xterm/xterm ] || missing+=("the npm packages")
  [ ${#missing[@]} -eq 0 ] && return
  say "missing: ${missing[*]}; running scripts/setup.sh --cluster"
  # shellcheck source=/dev/null
  source scripts/setup.sh --cluster
  cd "$root"
}

# The binary and site every replica runs; builds the release site when none was given.
resolve_build() {
  if [ -z "$RR_CLUSTER_BIN" ]; then
    say "building the release site and server (scripts/build-site.sh --release; log: $dir/build.log)"
    scripts/build-site.sh --release >"$dir/build.log" 2>&1 || { tail -n 40 "$dir/build.log" >&2; die "the build failed"; }
    RR_CLUSTER_BIN=${CARGO_TARGET_DIR:-target}/release/server
  fi
  RR_CLUSTER_SITE_ROOT=${RR_CLUSTER_SITE_ROOT:-target/site}
  RR_CLUSTER_BIN=$(realpath "$RR_CLUSTER_BIN")
  RR_CLUSTER_SITE_ROOT=$(realpath "$RR_CLUSTER_SITE_ROOT")
  [ -x "$RR_CLUSTER_BIN" ] || die "no server binary at $RR_CLUSTER_BIN"
  [ -d "$RR_CLUSTER_SITE_ROOT/pkg" ] || die "no site at $RR_CLUSTER_SITE_ROOT (its pkg/ folder is missing)"
}

start_redis() {
  mkdir -p "$dir/redis"
  # Sessions only: nothing is written to disk, and a restart starts empty.
  cat >"$dir/redis.conf" <<EOF
bind 127.0.0.1
port $redis_port
protected-mode yes
daemonize no
supervised no
dir $dir/redis
save ""
appendonly no
logfile ""
EOF
  setsid redis-server "$dir/redis.conf" >>"$dir/redis.log" 2>&1 </dev/null &
  echo $! >"$dir/redis.pid"
}

# The second engine's state lives in the cluster's folder, under the instance's name.
engine2() { RR_ENGINE2_DIR="$dir/engine2" "$root/scripts/engine2.sh" "$@"; }

# The replicas' `engines` setting: the default engine (through the socket proxy when
# ROOTRESUME_DOCKER_HOST names one), and the second.
engines_flag() {
  local one=${ROOTRESUME_DOCKER_HOST:-unix:///var/run/docker.sock} cap=$RR_CLUSTER_ENGINE_CAPACITY
  printf -- '--engines=[{name="one",endpoint="%s",capacity=%s},{name="two",endpoint="%s",capacity=%s}]' \
    "$one" "$cap" "$(engine2 socket)" "$cap"
}

start_replica() {
  local part=$1 addr engines=()
  addr=$(addr_of "$part")
  [ "$RR_CLUSTER_ENGINES" = 1 ] || engines+=("$(engines_flag)")
  # The same environment as scripts/release-server.sh, plus the cluster's settings as flags. The
  # flags' order matters to `strays`. setsid: no terminal signal reaches it, and $! is its pid.
  LEPTOS_OUTPUT_NAME=rootresume LEPTOS_SITE_ROOT=$RR_CLUSTER_SITE_ROOT LEPTOS_SITE_PKG_DIR=pkg \
    LEPTOS_SITE_ADDR=$addr LEPTOS_ENV=PROD RUST_LOG=${RUST_LOG:-info} \
    setsid "$RR_CLUSTER_BIN" --instance="$instance" --listen="$addr" --store.replica="$part" \
    --store.redis_url="redis://127.0.0.1:$redis_port/" \
    --sessions.trusted_proxy_header=x-forwarded-for "${engines[@]}" \
    >>"$dir/$part.log" 2>&1 </dev/null &
  echo $! >"$dir/$part.pid"
}

write_haproxy_cfg() {
  local part
  {
    cat <<EOF
# Written by scripts/cluster.sh; see docs/SCALE.md.
global
    log stdout format raw local0 info
    maxconn 4096

defaults
    mode http
    log global
    option httplog
    option dontlognull
    # The client's address for the replicas (sessions.trusted_proxy_header = x-forwarded-for);
    # the frontend drops any the client sent, since the server reads the first such header.
    option forwardfor
    # A replica that refuses the connection (just killed, not yet marked down): try another.
    option redispatch
    retries 3
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout queue 10s
    # Once upgraded, a terminal's WebSocket is a tunnel: idle for up to a session's lifetime.
    timeout tunnel 3600s
    timeout client-fin 10s
    timeout server-fin 10s

frontend site
    bind 127.0.0.1:$lb_port
    http-request del-header x-forwarded-for
    # Metrics answer loopback clients, and HAProxy is one: ask each replica instead.
    http-request deny deny_status 404 if { path /metrics }
    # Which replica served each response (the WebSocket upgrade too): for tests and debugging.
    http-response set-header x-rootresume-lb-server %s
    default_backend replicas

backend replicas
    # Round-robin, no stickiness: any replica serves any tab, sessions live in Redis.
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    # Down after 2 failed checks a second apart; a dead replica's tunnels close at once, so
    # its tabs reconnect through a live one.
    default-server inter 1s fastinter 500ms downinter 1s fall 2 rise 1 on-marked-down shutdown-sessions
EOF
    for part in "${replicas[@]}"; do
      printf '    server %s %s check\n' "$part" "$(addr_of "$part")"
    done
  } >"$dir/haproxy.cfg"
}

start_haproxy() {
  write_haproxy_cfg
  haproxy -c -q -f "$dir/haproxy.cfg" || die "HAProxy refuses $dir/haproxy.cfg"
  setsid haproxy -f "$dir/haproxy.cfg" -db >>"$dir/haproxy.log" 2>&1 </dev/null &
  echo $! >"$dir/haproxy.pid"
}

cmd_up() {
  load_settings
  local part any=0 to_start=()
  for part in $(parts); do
    if running_pid "$part" >/dev/null; then any=1; else to_start+=("$part"); fi
  done
  if [ $any = 0 ]; then
    # Nothing runs: whatever the state folder holds is stale; start afresh from the environment.
    rm -f "$settings_file"
    load_settings
  elif [ ${#conflicts[@]} -gt 0 ]; then
    die "the cluster in $dir already runs with other settings: ${conflicts[*]}; run down first or choose another RR_CLUSTER_DIR"
  fi
  validate_settings
  if [ ${#to_start[@]} -eq 0 ]; then
    say "already running: $(parts)"
    return
  fi
  mkdir -p "$dir"
  # Restarting a part of a running cluster (e.g. a replica a test killed) needs nothing new.
  [ $any = 1 ] || ensure_prerequisites
  for part in "${to_start[@]}"; do
    port_busy "$(port_of "$part")" && die "$(addr_of "$part") is taken by another process; $part cannot start there"
  done
  # A running cluster keeps the build it was started with; only a fresh one builds.
  [ $any = 1 ] || resolve_build
  save_settings

  if [ "$RR_CLUSTER_ENGINES" = 2 ]; then
    say "starting the second Docker engine (log: $dir/engine2/dockerd.log)"
    engine2 up
  fi
  # Redis first (the replicas need it), then the replicas together, HAProxy once they answer.
  for part in "${to_start[@]}"; do
    say "starting $part on $(addr_of "$part") (log: $dir/$part.log)"
    case $part in
      redis) start_redis; await redis 10 ;;
      haproxy) ;;
      *) start_replica "$part" ;;
    esac
  done
  for part in "${to_start[@]}"; do
    case $part in
      redis) ;;
      haproxy) start_haproxy; await haproxy 20 ;;
      *) await "$part" 120 ;;
    esac
  done
  say "up: http://127.0.0.1:$lb_port/ (instance $instance, $(basename "$RR_CLUSTER_BIN") from $(dirname "$RR_CLUSTER_BIN"))"
}

cmd_status() {
  load_settings
  [ ${#conflicts[@]} -eq 0 ] || say "note: showing the cluster in $dir, which runs with other settings: ${conflicts[*]}"
  local part pid state all=0
  printf '%-8s %-8s %-16s %s\n' PART PID ADDRESS STATE
  for part in $(parts); do
    if pid=$(running_pid "$part"); then
      state=$(probe "$part") || all=1
      printf '%-8s %-8s %-16s %s\n' "$part" "$pid" "$(addr_of "$part")" "$state"
    else
      printf '%-8s %-8s %-16s %s\n' "$part" - "$(addr_of "$part")" "not running"
      all=1
    fi
  done
  [ -f "$settings_file" ] && printf 'instance %s, binary %s, state %s\n' "$instance" "${RR_CLUSTER_BIN:-?}" "$dir"
  return $all
}

# SIGTERM, up to `seconds` to exit, then SIGKILL.
stop_pids() {
  local seconds=$1 pid left i state
  shift
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  for ((i = 0; i < seconds * 5; i++)); do
    left=()
    for pid in "$@"; do
      state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
      if [ -n "$state" ] && [ "$state" != Z ]; then left+=("$pid"); fi
    done
    [ ${#left[@]} -eq 0 ] && return 0
    sleep 0.2
  done
  say "still running after ${seconds} s, killing: ${left[*]}"
  kill -KILL "${left[@]}" 2>/dev/null || true
}

cmd_down() {
  load_settings
  [ ${#conflicts[@]} -eq 0 ] || say "note: stopping the cluster in $dir, which runs with other settings: ${conflicts[*]}"
  local part pid pids=() failed=0 containers
  if pid=$(running_pid haproxy); then say "stopping haproxy ($pid)"; stop_pids 5 "$pid"; fi
  for part in "${replicas[@]}"; do
    if pid=$(running_pid "$part"); then pids+=("$pid"); fi
  done
  while read -r pid; do pids+=("$pid"); done < <(strays)
  mapfile -t pids < <(printf '%s\n' "${pids[@]}" | awk 'NF && !seen[$0]++')
  # A replica's shutdown removes its sessions' containers (shutdown_timeout_secs, 10 s by default).
  if [ ${#pids[@]} -gt 0 ]; then say "stopping the replicas (${pids[*]})"; stop_pids 30 "${pids[@]}"; fi
  if pid=$(running_pid redis); then
    say "flushing and stopping redis ($pid)"
    timeout 2 redis-cli -h 127.0.0.1 -p "$redis_port" flushall >/dev/null 2>&1 || true
    stop_pids 10 "$pid"
  fi

  if docker info >/dev/null 2>&1; then
    containers=$(docker ps -aq --filter "label=rootresume.instance=$instance")
    if [ -n "$containers" ]; then
      say "removing $(echo "$containers" | wc -l) container(s) labelled rootresume.instance=$instance"
      echo "$containers" | xargs docker rm -f >/dev/null
    fi
    [ -z "$(docker ps -aq --filter "label=rootresume.instance=$instance")" ] || { say "containers of $instance remain" >&2; failed=1; }
  else
    say "the Docker engine does not answer: cannot check for containers of $instance" >&2
    failed=1
  fi
  if [ -d "$dir/engine2" ]; then
    say "stopping the second Docker engine and removing its state"
    engine2 down || failed=1
  fi
  for part in $(parts); do
    if pid=$(running_pid "$part"); then say "$part ($pid) is still running" >&2; failed=1; fi
  done
  [ -z "$(strays)" ] || { say "processes of the cluster remain: $(strays | tr '\n' ' ')" >&2; failed=1; }
  if [ $failed = 0 ]; then
    rm -rf "$dir"
    say "down: no process or container of $instance left"
  else
    die "down left something behind (state kept in $dir)"
  fi
}

command=${1:-}
case $command in
  up) cmd_up ;;
  status) cmd_status ;;
  down) cmd_down ;;
  pid)
    load_settings
    addr_of "${2:?usage: $0 pid NAME}" >/dev/null
    running_pid "$2" || die "$2 is not running"
    ;;
  addr) load_settings; addr_of "${2:?usage: $0 addr NAME}" ;;
  log) load_settings; addr_of "${2:?usage: $0 log NAME}" >/dev/null; echo "$dir/$2.log" ;;
  replicas) load_settings; printf '%s\n' "${replicas[@]}" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
