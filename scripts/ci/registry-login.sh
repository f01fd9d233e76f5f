#!/usr/bin/env bash
# Logs the Docker CLI in to the image registry from environment variables only (the pipeline maps its secrets to
# them): REGISTRY_USER, REGISTRY_PASSWORD, and REGISTRY (default: the host of IMAGE_REPOSITORY).
# REHEARSAL=1 checks the variables are set and logs in nowhere.
set -euo pipefail
repository="${IMAGE_REPOSITORY:-}"
registry="${REGISTRY:-${repository%%/*}}"
: "${registry:?REGISTRY or IMAGE_REPOSITORY must name the registry}"
: "${REGISTRY_USER:?REGISTRY_USER must be set}"
: "${REGISTRY_PASSWORD:?REGISTRY_PASSWORD must be set}"
if [ "${REHEARSAL:-0}" = 1 ]; then
  echo "rehearsal: would log in to $registry as $REGISTRY_USER"
  exit 0
fi
printf '%s' "$REGISTRY_PASSWORD" | docker login --username "$REGISTRY_USER" --password-stdin "$registry"
