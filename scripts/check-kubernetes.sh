#!/usr/bin/env bash
# Validates, offline, everything this repository gives a Kubernetes cluster: the manifests of
# deploy/kubernetes (rendered with kustomize) and the sandbox Pod the server builds
# (`server --print-pod-spec`, with and without a RuntimeClass), against the official schemas of
# the oldest and the newest Kubernetes release supported, with `kubernetes-validate --strict`
# (unknown fields are errors). No cluster is needed or contacted.
#
#   scripts/check-kubernetes.sh
#
# Installs what is missing: kubernetes-validate (pinned, into a venv under ${TMPDIR:-/tmp}) and
# kubectl (Debian's kubernetes-client, when no kubectl is on PATH). Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '\033[1m[check-kubernetes]\033[0m %s\n' "$*"; }

# The oldest: what the server's API types (k8s-openapi's v1_32) target. The newest: the latest
# schemas the pinned kubernetes-validate ships.
versions=(1.32.0 1.37.0)
# kubernetes-validate and what it needs, pinned: the same validator every run.
pins=(
  kubernetes-validate==1.37.0 jsonschema==4.26.0 jsonschema-specifications==2025.9.1
  referencing==0.37.0 rpds-py==2026.9.1 attrs==26.1.0 PyYAML==6.0.4 packaging==26.4
  importlib_resources==7.1.0 typing_extensions==4.16.0
)
venv=${TMPDIR:-/tmp}/rootresume-kubernetes-validate
validate=$venv/bin/kubernetes-validate

if [ "$("$validate" --version 2>/dev/null || true)" != "1.37.0" ]; then
  say "installing kubernetes-validate 1.37.0 into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "${pins[@]}"
fi

if ! command -v kubectl >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    say "missing: kubectl — install with: sudo apt-get install kubernetes-client"
    exit 1
  fi
  say "installing kubectl (apt: kubernetes-client)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rootresume-check-kubernetes.XXXXXX")
trap 'rm -rf "$work"' EXIT

kubectl kustomize deploy/kubernetes >"$work/manifests.yaml"
cargo run -q -p server -- --print-pod-spec >"$work/pod.yaml"
cargo run -q -p server -- --print-pod-spec --kubernetes.runtime_class=gvisor >"$work/pod-gvisor.yaml"
documents=$(cat "$work"/*.yaml | grep -c '^kind:')

for version in "${versions[@]}"; do
  # --quiet prints failures only; any failure makes the exit status non-zero.
  "$validate" --strict --quiet -k "$version" "$work"/*.yaml
  say "Kubernetes $version: $documents resources valid (strict): deploy/kubernetes and the sandbox Pod"
done
