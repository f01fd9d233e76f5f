# Sourced by the image steps: the images the repo ships, one per service under src/services, all from
# deploy/docker/Dockerfile (--build-arg SERVICE) and all tagged APP_VERSION. users is IMAGE_REPOSITORY itself,
# every other service IMAGE_REPOSITORY/<service> (deploy/ci/kustomize.ts renders the same names).
# shellcheck shell=bash
SERVICES=(users alert-relay)
IMAGE_REPOSITORY="${IMAGE_REPOSITORY:-user-service}"
APP_VERSION="${APP_VERSION:-latest}"

image_of() { # service
  if [ "$1" = users ]; then echo "$IMAGE_REPOSITORY:$APP_VERSION"; else echo "$IMAGE_REPOSITORY/$1:$APP_VERSION"; fi
}

all_images() {
  local service
  for service in "${SERVICES[@]}"; do image_of "$service"; done
}
