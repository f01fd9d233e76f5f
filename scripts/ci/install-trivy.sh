#!/usr/bin/env bash
# Installs Trivy TRIVY_VERSION (pinned) from its GitHub release .deb, checked against the release's SHA-256 sums.
# Kept when that version is already on PATH. REHEARSAL=1 installs nothing (the release and the vulnerability
# database need the internet); the rehearsal then runs the gate with TRIVY_REQUIRED=0 and says so.
set -euo pipefail
version="${TRIVY_VERSION:-0.58.1}"
if command -v trivy >/dev/null && trivy --version 2>/dev/null | grep -q "Version: ${version}\$"; then
  echo "trivy ${version} already installed"; exit 0
fi
if [ "${REHEARSAL:-0}" = 1 ]; then
  echo "rehearsal: would install trivy ${version} from its GitHub release"; exit 0
fi
command -v curl >/dev/null || bash "$(dirname "$0")/install-system-packages.sh" base
arch=$(uname -m); case "$arch" in x86_64) arch=64bit ;; aarch64|arm64) arch=ARM64 ;; esac
base="${TRIVY_BASE_URL:-https://github.com/aquasecurity/trivy/releases/download}/v${version}"
package="trivy_${version}_Linux-${arch}.deb"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
curl -fsSL --retry 3 -o "$work/$package" "$base/$package"
curl -fsSL --retry 3 -o "$work/checksums.txt" "$base/trivy_${version}_checksums.txt"
(cd "$work" && grep " ${package}\$" checksums.txt | sha256sum -c -)
dpkg -i "$work/$package" >/dev/null
trivy --version | head -n 1
