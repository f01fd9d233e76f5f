#!/usr/bin/env bash
# Pipeline step (npm run image:push): pushes IMAGE_REPOSITORY:APP_VERSION, loading it from IMAGE_ARCHIVE first when
# the build ran on another machine. The registry login is the pipeline's (its own credentials store).
set -euo pipefail
repository="${IMAGE_REPOSITORY:?IMAGE_REPOSITORY names the registry repository, e.g. registry.example.com/platform/user-service}"
version="${APP_VERSION:?APP_VERSION is the image tag}"
if [ -n "${IMAGE_ARCHIVE:-}" ] && [ -f "$IMAGE_ARCHIVE" ]; then
  docker load -i "$IMAGE_ARCHIVE"
fi
docker push "$repository:$version"
