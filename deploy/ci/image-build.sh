#!/usr/bin/env bash
# Pipeline step (npm run image:build): builds the service image IMAGE_REPOSITORY:APP_VERSION from
# deploy/docker/Dockerfile with its version labels. IMAGE_ARCHIVE=path also saves it with `docker save`, for
# pipelines whose scan and push jobs run on other machines. DOCKER_BUILD_ARGS adds arguments (for example the
# local base images printed by scripts/docker/make-base-images.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
repository="${IMAGE_REPOSITORY:-user-service}"
version="${APP_VERSION:-latest}"
image="$repository:$version"
read -r -a extra <<<"${DOCKER_BUILD_ARGS:-}"
docker build -f deploy/docker/Dockerfile \
  --build-arg SERVICE=users \
  --build-arg APP_VERSION="$version" \
  --build-arg REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  --build-arg CREATED="$(date -u +%FT%TZ)" \
  --build-arg SOURCE="${SOURCE_URL:-https://example.invalid/user-service}" \
  "${extra[@]}" -t "$image" .
if [ -n "${IMAGE_ARCHIVE:-}" ]; then
  mkdir -p "$(dirname "$IMAGE_ARCHIVE")"
  docker save -o "$IMAGE_ARCHIVE" "$image"
fi
echo "built $image"
