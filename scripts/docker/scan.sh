#!/usr/bin/env bash
# Vulnerability gate for an image: HIGH and CRITICAL findings fail (exit 1) unless deploy/docker/trivyignore.yaml
# lists them with a reason. Usage: scripts/docker/scan.sh IMAGE
set -euo pipefail
cd "$(dirname "$0")/../.."
image=${1:?usage: scan.sh IMAGE}
if ! command -v trivy >/dev/null; then
  echo "trivy is not installed; the image scan runs where it is (and its vulnerability database is reachable)" >&2
  exit "${TRIVY_REQUIRED:+1}${TRIVY_REQUIRED:-0}"
fi
exec trivy image --severity HIGH,CRITICAL --exit-code 1 --ignore-unfixed \
  --ignorefile deploy/docker/trivyignore.yaml "$image"
