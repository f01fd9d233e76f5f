#!/usr/bin/env bash
# Pipeline step (npm run image:push): pushes every service image (deploy/ci/images.sh), loading them from
# IMAGE_ARCHIVE first when the build ran on another machine. The registry login is scripts/ci/registry-login.sh.
# REHEARSAL=1 checks each image exists locally and pushes nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${IMAGE_REPOSITORY:?IMAGE_REPOSITORY names the registry repository, e.g. registry.example.com/platform/user-service}"
: "${APP_VERSION:?APP_VERSION is the image tag}"
source deploy/ci/images.sh
if [ -n "${IMAGE_ARCHIVE:-}" ] && [ -f "$IMAGE_ARCHIVE" ]; then
  docker load -i "$IMAGE_ARCHIVE"
fi
for image in $(all_images); do
  if [ "${REHEARSAL:-0}" = 1 ]; then
    docker image inspect "$image" >/dev/null
    echo "rehearsal: would push $image"
  else
    docker push "$image"
  fi
done
