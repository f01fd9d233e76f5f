#!/usr/bin/env bash
# Starts (or stops) a throwaway PostgreSQL 15 on loopback for tests, from Debian's packages.
#   eval "$(scripts/servers/postgres.sh start)"   # exports TEST_DATABASE_URL
#   scripts/servers/postgres.sh stop
# PG_TEST_PORT and PG_TEST_DIR select the instance, so a test can run a second one it may stop and restart.
set -euo pipefail
port="${PG_TEST_PORT:-55432}"
dir="${PG_TEST_DIR:-/tmp/user-service-pg-$port}"
bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"

ensure_installed() {
  if [ -z "$bindir" ]; then
    echo "installing postgresql from Debian" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  fi
}

as_postgres() {
  if [ "$(id -u)" = "0" ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

case "${1:-}" in
  start)
    ensure_installed
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"
      [ "$(id -u)" = "0" ] && chown postgres:postgres "$dir"
      as_postgres "$bindir/initdb -D '$dir' -U postgres --auth=trust -E UTF8 --no-sync" >&2
    fi
    if ! as_postgres "$bindir/pg_ctl -D '$dir' status" >/dev/null 2>&1; then
      as_postgres "$bindir/pg_ctl -D '$dir' -l '$dir/server.log' -w -t 30 -o \"-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" start" >&2
    fi
    for _ in $(seq 1 60); do
      "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" && break
      sleep 0.5
    done
    "$bindir/pg_isready" -h 127.0.0.1 -p "$port" >&2
    echo "export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [ -n "$bindir" ] && [ -f "$dir/PG_VERSION" ]; then
      as_postgres "$bindir/pg_ctl -D '$dir' -m fast -w stop" >&2 || true
    fi
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
