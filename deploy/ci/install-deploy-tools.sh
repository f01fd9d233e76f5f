#!/usr/bin/env bash
# Pipeline step (npm run deploy:tools): kubectl (with its built-in kustomize) and the Argo Rollouts kubectl plugin,
# pinned, checked against their published SHA-256 sums, into TOOLS_DIR (default ~/.local/bin, put on PATH).
# A tool already on PATH at the pinned version is kept. KUBECTL_BASE_URL and ARGO_ROLLOUTS_BASE_URL point the
# downloads at a mirror (curl takes file:// too); the checksum check stays. REHEARSAL=1 skips the Argo Rollouts
# plugin, which only a real apply uses (rehearsals apply nothing).
#   npm run deploy:tools               kubectl and the plugin (deploy jobs)
#   npm run deploy:tools -- kubectl    kubectl only (test, render and verify jobs)
set -euo pipefail
only="${1:-}"
case "$only" in "" | kubectl) ;; *) echo "usage: install-deploy-tools.sh [kubectl]" >&2; exit 2 ;; esac
kubectl_version="${KUBECTL_VERSION:-v1.32.4}"
rollouts_version="${ARGO_ROLLOUTS_VERSION:-v1.8.3}"
dir="${TOOLS_DIR:-$HOME/.local/bin}"
mkdir -p "$dir"
arch=$(uname -m); case "$arch" in x86_64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; esac

kubectl_base="${KUBECTL_BASE_URL:-https://dl.k8s.io/release}"
rollouts_base="${ARGO_ROLLOUTS_BASE_URL:-https://github.com/argoproj/argo-rollouts/releases/download}"

if ! command -v curl >/dev/null && command -v apt-get >/dev/null; then
  bash "$(dirname "$0")/../../scripts/ci/install-system-packages.sh" base
fi

fetch() { # url file
  curl -fsSL --retry 3 -o "$2" "$1"
}

if ! command -v kubectl >/dev/null || ! kubectl version --client 2>/dev/null | grep -q "Client Version: ${kubectl_version}"; then
  fetch "${kubectl_base}/${kubectl_version}/bin/linux/${arch}/kubectl" "$dir/kubectl"
  echo "$(fetch "${kubectl_base}/${kubectl_version}/bin/linux/${arch}/kubectl.sha256" /dev/stdout)  $dir/kubectl" | sha256sum -c -
  chmod +x "$dir/kubectl"
fi
if [ "$only" = kubectl ]; then
  :
elif [ "${REHEARSAL:-0}" = 1 ]; then
  echo "rehearsal: kubectl-argo-rollouts ${rollouts_version} not installed (only a real apply waits with it)"
elif ! command -v kubectl-argo-rollouts >/dev/null; then
  base="${rollouts_base}/${rollouts_version}"
  fetch "$base/kubectl-argo-rollouts-linux-${arch}" "$dir/kubectl-argo-rollouts"
  fetch "$base/kubectl-argo-rollouts-checksums.txt" "$dir/.rollouts-checksums"
  expected=$(grep " kubectl-argo-rollouts-linux-${arch}\$" "$dir/.rollouts-checksums" | cut -d' ' -f1)
  echo "${expected}  $dir/kubectl-argo-rollouts" | sha256sum -c -
  rm -f "$dir/.rollouts-checksums"
  chmod +x "$dir/kubectl-argo-rollouts"
fi
echo "deploy tools in $dir: $("$dir/kubectl" version --client 2>/dev/null | head -n 1 || kubectl version --client | head -n 1)"
