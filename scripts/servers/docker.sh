#!/usr/bin/env bash
# Starts (or stops) a Docker engine for tests: dockerd and the containerd it runs.
#   scripts/servers/docker.sh start   # no-op when an engine already answers; waits (bounded) for `docker info`
#   scripts/servers/docker.sh stop    # stops dockerd and containerd only if `start` started them
# Pidfiles in DOCKER_STATE_DIR record what `start` started, so `stop` never ends an engine that was running before.
# DOCKER_SOCK and DOCKERD_EXTRA_ARGS (space-separated) select another instance, e.g. a second engine in a temp dir.
set -euo pipefail
sock="${DOCKER_SOCK:-/var/run/docker.sock}"
state="${DOCKER_STATE_DIR:-/tmp/user-service-docker}"
log="${DOCKERD_LOG:-$state/dockerd.log}"
timeout_s="${DOCKER_START_TIMEOUT_S:-60}"

engine_answers() { docker -H "unix://$sock" info >/dev/null 2>&1; }

# The pid in a pidfile, if that process is still the named program (a pid can be reused after a crash).
owned_pid() {
  local file="$state/$1.pid" pid
  [ -f "$file" ] || return 1
  pid="$(cat "$file")"
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] && echo "$pid"
}

stop_pid() {
  local name="$1" pid="$2"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || { echo "$name stopped (pid $pid)" >&2; return 0; }; sleep 0.2; done
  echo "$name (pid $pid) still running after 30 s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-start}" in
  start)
    if engine_answers; then
      owned_pid dockerd >/dev/null || echo "docker engine already running; not started here, so stop leaves it" >&2
      exit 0
    fi
    mkdir -p "$state"
    if ! owned_pid dockerd >/dev/null; then
      # shellcheck disable=SC2086 # DOCKERD_EXTRA_ARGS is a list of arguments
      nohup dockerd --host "unix://$sock" ${DOCKERD_EXTRA_ARGS:-} >"$log" 2>&1 &
      echo $! >"$state/dockerd.pid"
      echo "dockerd started (pid $!, log $log)" >&2
    fi
    deadline=$(( $(date +%s) + timeout_s ))
    until engine_answers; do
      if [ "$(date +%s)" -ge "$deadline" ] || ! owned_pid dockerd >/dev/null; then
        echo "docker engine did not answer within $timeout_s s; last log lines:" >&2
        tail -n 20 "$log" >&2 || true
        exit 1
      fi
      sleep 0.5
    done
    # dockerd runs its own containerd unless one was already serving; record it to stop it even if dockerd dies first.
    containerd_pid="$(pgrep -P "$(owned_pid dockerd)" -x containerd || true)"
    [ -n "$containerd_pid" ] && echo "$containerd_pid" >"$state/containerd.pid"
    echo "docker engine ready" >&2
    ;;
  stop)
    if pid="$(owned_pid dockerd)"; then stop_pid dockerd "$pid"; fi
    if pid="$(owned_pid containerd)"; then stop_pid containerd "$pid"; fi
    rm -f "$state/dockerd.pid" "$state/containerd.pid"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
