#!/usr/bin/env bash
# Starts dockerd when no engine answers, then waits (bounded) until `docker info` succeeds. Idempotent.
set -euo pipefail
deadline=$(( $(date +%s) + ${DOCKER_START_TIMEOUT_S:-60} ))
if docker info >/dev/null 2>&1; then exit 0; fi
log=${DOCKERD_LOG:-/tmp/dockerd.log}
if ! pgrep -x dockerd >/dev/null; then
  nohup dockerd --host unix:///var/run/docker.sock >"$log" 2>&1 &
  echo "dockerd started (pid $!, log $log)" >&2
fi
until docker info >/dev/null 2>&1; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "docker engine did not answer within ${DOCKER_START_TIMEOUT_S:-60} s; last log lines:" >&2
    tail -n 20 "$log" >&2 || true
    exit 1
  fi
  sleep 0.5
done
echo "docker engine ready" >&2
