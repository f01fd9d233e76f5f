#!/usr/bin/env bash
# Starts (or stops) a Prometheus on loopback from Debian's package, scraping a running service and evaluating
# the alert rules of deploy/monitoring/rules, for looking at the shared queries by hand.
#   eval "$(scripts/servers/prometheus.sh start 127.0.0.1:8080)"   # exports PROMETHEUS_URL
#   scripts/servers/prometheus.sh status
#   scripts/servers/prometheus.sh stop
# PROM_PORT (default 19090), PROM_DIR and PROM_SCRAPE_INTERVAL (default 5s) select the instance.
set -euo pipefail
port="${PROM_PORT:-19090}"
dir="${PROM_DIR:-/tmp/user-service-prometheus-$port}"
interval="${PROM_SCRAPE_INTERVAL:-5s}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"

ensure_installed() {
  if ! command -v prometheus >/dev/null; then
    echo "installing prometheus from Debian" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >&2
  fi
}

running() { [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; }

case "${1:-}" in
  start)
    target="${2:?usage: $0 start HOST:PORT}"
    ensure_installed
    mkdir -p "$dir/data"
    cat >"$dir/prometheus.yml" <<YAML
global:
  scrape_interval: $interval
  evaluation_interval: $interval
rule_files:
  - $repo/deploy/monitoring/rules/*.yml
scrape_configs:
  - job_name: user-service
    static_configs:
      - targets: ["$target"]
YAML
    if ! running; then
      nohup prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
        --web.listen-address="127.0.0.1:$port" --web.enable-lifecycle >"$dir/prometheus.log" 2>&1 &
      echo $! >"$dir/pid"
    else
      curl -fsS -X POST "http://127.0.0.1:$port/-/reload" >&2
    fi
    for _ in $(seq 1 60); do
      curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && break
      running || { cat "$dir/prometheus.log" >&2; exit 1; }
      sleep 0.5
    done
    curl -fsS "http://127.0.0.1:$port/-/ready" >&2
    echo "export PROMETHEUS_URL=http://127.0.0.1:$port"
    ;;
  status)
    if running; then echo "running (pid $(cat "$dir/pid")) on http://127.0.0.1:$port"; else echo "stopped"; exit 1; fi
    ;;
  stop)
    if running; then
      pid="$(cat "$dir/pid")"
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start HOST:PORT | status | stop" >&2
    exit 2
    ;;
esac
