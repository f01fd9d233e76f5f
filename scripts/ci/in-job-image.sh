#!/usr/bin/env bash
# Runs a shell command in the pipelines' job image (JOB_IMAGE, default node:24.21.0-bookworm-slim) as root, with
# this checkout mounted at the same path and the host's Docker engine, network and PID namespace (the container
# suites read /proc of the containers they start): for runners whose job
# containers cannot reach what a Docker engine publishes on loopback (GitHub's container jobs get a network of
# their own), so the system suites see the same machine as on GitLab and Jenkins. The pipeline's variables listed
# in JOB_ENV pass through.
#   bash scripts/ci/in-job-image.sh 'npm ci && npm run test:system'
set -euo pipefail
image="${JOB_IMAGE:-node:24.21.0-bookworm-slim}"
envs=()
for name in CI APP_VERSION DEPLOY_ENV IMAGE_REPOSITORY REHEARSAL ${JOB_ENV:-}; do
  [ -n "${!name+x}" ] && envs+=(-e "$name")
done
exec docker run --rm --network host --pid host -v /var/run/docker.sock:/var/run/docker.sock -v "$PWD:$PWD" -w "$PWD" \
  -e HOME=/root -e PATH=/root/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  "${envs[@]}" "$image" bash -eo pipefail -c "$1"
