#!/usr/bin/env bash
# Pipeline step (npm run image:build): builds every service image (deploy/ci/images.sh: users as
# IMAGE_REPOSITORY:APP_VERSION, alert-relay as IMAGE_REPOSITORY/alert-relay:APP_VERSION) from deploy/docker/Dockerfile
# with its OCI labels. IMAGE_ARCHIVE=path also saves them all with `docker save`, for pipelines whose scan and push
# jobs run on other machines. DOCKER_BUILD_ARGS adds arguments (for example the local base images printed by
# scripts/docker/make-base-images.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/ci/images.sh
read -r -a extra <<<"${DOCKER_BUILD_ARGS:-}"
revision="${REVISION:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}"
created="$(date -u +%FT%TZ)"
for service in "${SERVICES[@]}"; do
  docker build -f deploy/docker/Dockerfile \
    --build-arg SERVICE="$service" \
    --build-arg APP_VERSION="$APP_VERSION" \
    --build-arg REVISION="$revision" \
    --build-arg CREATED="$created" \
    --build-arg SOURCE="${SOURCE_URL:-https://example.invalid/user-service}" \
    "${extra[@]}" -t "$(image_of "$service")" .
  echo "built $(image_of "$service")"
done
if [ -n "${IMAGE_ARCHIVE:-}" ]; then
  mkdir -p "$(dirname "$IMAGE_ARCHIVE")"
  mapfile -t images < <(all_images)
  docker save -o "$IMAGE_ARCHIVE" "${images[@]}"
  echo "saved ${images[*]} to $IMAGE_ARCHIVE"
fi
