#!/usr/bin/env bash
# Vulnerability gate for images (npm run image:scan [-- IMAGE...]; default: every shipped image, deploy/ci/images.sh,
# loaded from IMAGE_ARCHIVE first when that file exists): Trivy lists every HIGH and CRITICAL finding,
# fixed upstream or not, and scripts/docker/trivy-gate.ts fails the gate (exit 1) on any that
# deploy/docker/trivyignore.yaml (TRIVY_IGNOREFILE) does not excuse with a reason and an unexpired review date.
# TRIVY_REQUIRED=1 (default): a missing trivy binary fails (exit 1). TRIVY_REQUIRED=0: a missing trivy is a
# warning and exit 0; when trivy is there, its findings fail exactly as with 1. Anything else: exit 2.
set -euo pipefail
cd "$(dirname "$0")/../.."
required="${TRIVY_REQUIRED:-1}"
ignorefile="${TRIVY_IGNOREFILE:-deploy/docker/trivyignore.yaml}"
case "$required" in
  0 | 1) ;;
  *) echo "TRIVY_REQUIRED=$required: use 1 (missing trivy fails) or 0 (missing trivy warns)" >&2; exit 2 ;;
esac
if [ "$#" -eq 0 ]; then
  source deploy/ci/images.sh
  mapfile -t shipped < <(all_images)
  set -- "${shipped[@]}"
fi
if ! command -v trivy >/dev/null; then
  if [ "$required" = 1 ]; then
    echo "trivy is not installed and TRIVY_REQUIRED=1: the gate cannot pass unscanned images ($*)" >&2
    exit 1
  fi
  echo "WARNING: trivy is not installed; TRIVY_REQUIRED=0, so $* passed unscanned" >&2
  exit 0
fi
if [ -n "${IMAGE_ARCHIVE:-}" ] && [ -f "$IMAGE_ARCHIVE" ]; then docker load -i "$IMAGE_ARCHIVE"; fi
report=$(mktemp); trap 'rm -f "$report"' EXIT
failed=0
for image in "$@"; do
  echo "scanning $image"
  # --exit-code 0: the decision is trivy-gate.ts's, which also weighs the ignore file's review dates.
  trivy image --quiet --format json --output "$report" --severity HIGH,CRITICAL --scanners vuln,secret \
    --exit-code 0 "$image"
  node scripts/docker/trivy-gate.ts "$report" "$ignorefile" || failed=1
done
exit "$failed"
