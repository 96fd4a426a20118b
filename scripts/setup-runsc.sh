#!/usr/bin/env bash
# Optional stronger isolation: installs gVisor (Debian's runsc) and registers it with the Docker
# engine as the runtime "runsc", so `sandbox.runtime = "runsc"` works and the attack suite also
# runs under it. Sourced by setup.sh when ROOTRESUME_SETUP_RUNSC is not 0; can run on its own.
#
# The engine is never restarted (that would kill every running sandbox): runtimes are one of the
# settings dockerd re-reads from /etc/docker/daemon.json on SIGHUP.
set -euo pipefail

runsc_say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# gVisor sets up each sandbox's chroot in the engine's temporary folder (<data root>/tmp), from a
# process that is not root in its namespace: the data root must be traversable (0711, Docker's
# usual mode). Seen at 0710 on a machine here, every runsc sandbox then failed with "cannot read
# client sync file" and no word about permissions.
runsc_traversable_root() {
  local root
  root=$(docker info --format '{{.DockerRootDir}}' 2>/dev/null) || return 0
  if [ -d "$root" ] && [ "$(id -u)" = 0 ] && [ "$(stat -c %a "$root")" != 711 ]; then
    runsc_say "gVisor: making $root traversable (711) for the sandboxes' chroot"
    chmod 711 "$root"
  fi
}

ensure_runsc() {
  local config=/etc/docker/daemon.json
  runsc_traversable_root
  if docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"' \
    && grep -q -- '--oci-seccomp' "$config" 2>/dev/null; then
    runsc_say "gVisor: runtime runsc registered with the engine"
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    runsc_say "gVisor: not registered; as root, scripts/setup-runsc.sh installs and registers it (optional)"
    return 0
  fi
  if ! command -v runsc >/dev/null; then
    runsc_say "gVisor: installing runsc (apt)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends runsc >/dev/null \
      || { runsc_say "gVisor: runsc could not be installed; sandboxes use runc only"; return 0; }
  fi
  local runsc_path
  runsc_path=$(command -v runsc)
  mkdir -p /etc/docker
  [ -s "$config" ] || echo '{}' >"$config"
  # --network=none: the sandboxes have no network anyway; gVisor then sets up no netstack at all.
  # --oci-seccomp: apply Docker's seccomp profile inside the sandbox too; without it gVisor
  # ignores the profile and, for one, lets a visitor create user namespaces.
  python3 - "$config" "$runsc_path" <<'PY'
import json, sys
path, runsc = sys.argv[1], sys.argv[2]
with open(path) as f:
    config = json.load(f)
config.setdefault("runtimes", {})["runsc"] = {"path": runsc, "runtimeArgs": ["--network=none", "--oci-seccomp"]}
with open(path, "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
PY
  local pid
  pid=$(pgrep -xo dockerd || true)
  if [ -z "$pid" ]; then
    runsc_say "gVisor: written to $config; it applies when dockerd starts"
    return 0
  fi
  kill -HUP "$pid"
  for _ in $(seq 20); do
    if docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; then
      runsc_say "gVisor: runtime runsc registered (dockerd reloaded $config, nothing restarted)"
      return 0
    fi
    sleep 0.5
  done
  runsc_say "gVisor: dockerd did not pick up runsc from $config; sandboxes use runc only"
}

# Run directly: do it now. Sourced: setup.sh calls ensure_runsc.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  ensure_runsc
fi
