#!/usr/bin/env bash
# Prints the runtime image size, its base and the reduction against a single-stage build of the same app
# (build image + full node_modules + sources + bundle, started the same way). Usage: image-size.sh [SERVICE]
set -euo pipefail
cd "$(dirname "$0")/../.."
service=${1:-users}
bash scripts/servers/docker.sh start
read -r -a args <<<"$(bash scripts/docker/make-base-images.sh)"
build_image=${args[1]#*=}; runtime_image=${args[3]#*=}
export DOCKER_BUILDKIT=0
docker build -q --network host -f deploy/docker/Dockerfile "${args[@]}" --build-arg SERVICE="$service" -t "size-check/$service:multi" . >/dev/null
single=$(mktemp); trap 'rm -f "$single"' EXIT
cat >"$single" <<DOCKERFILE
FROM $build_image
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN node scripts/build.ts $service
CMD ["node", "dist/$service/main.mjs"]
DOCKERFILE
docker build -q --network host -f "$single" -t "size-check/$service:single" . >/dev/null
size() { docker image inspect -f '{{.Size}}' "$1"; }
multi=$(size "size-check/$service:multi"); one=$(size "size-check/$service:single"); base=$(size "$runtime_image")
awk -v m="$multi" -v s="$one" -v b="$base" 'BEGIN {
  printf "runtime image  %7.1f MB\nruntime base   %7.1f MB (added %.1f MB; budget 15 MB)\nsingle-stage   %7.1f MB\nreduction      %7.1f MB (%.0f %%)\n",
    m/1e6, b/1e6, (m-b)/1e6, s/1e6, (s-m)/1e6, 100*(s-m)/s }'
docker rmi "size-check/$service:multi" "size-check/$service:single" >/dev/null
