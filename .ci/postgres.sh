#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite: Debian's package, a private cluster on
# 127.0.0.1, one role and database. Idempotent. Usage:
#   eval "$(.ci/postgres.sh)"      # start (installing if needed); exports CXLAYER_TEST_DATABASE_URL
#   .ci/postgres.sh stop           # stop the cluster and remove its data directory
# Environment: PGPORT_CI (default 54329), PGDATA_CI (default /tmp/cxlayer-ci-postgres).
set -euo pipefail

PORT="${PGPORT_CI:-54329}"
DATA="${PGDATA_CI:-/tmp/cxlayer-ci-postgres}"
ROLE=cxlayer
PASSWORD=cxlayer-ci   # local throwaway cluster on loopback only
DATABASE=cxlayer
LOG="$DATA.log"

log() { echo "postgres.sh: $*" >&2; }

as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    # runuser keeps it non-interactive; the data dir belongs to the postgres user.
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

find_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
}

install_postgres() {
  if find_bindir >/dev/null; then
    return
  fi
  log "installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
}

BIN=""
start() {
  install_postgres
  BIN=$(find_bindir) || { log "pg_ctl not found after install"; exit 1; }
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$DATA"
    chown postgres:postgres "$DATA"
    touch "$LOG" && chown postgres:postgres "$LOG"
  fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    log "initialising a cluster in $DATA"
    as_postgres "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --no-locale >&2
  fi
  if ! as_postgres "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    log "starting on 127.0.0.1:$PORT"
    as_postgres "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA -c fsync=off -c max_connections=200" start >&2
  fi
  psql_admin() { as_postgres "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
  if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname='$ROLE'")" != 1 ]; then
    # CREATEDB: the tests create (and drop) their own database per session.
    psql_admin -c "CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'" >&2
  fi
  if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname='$DATABASE'")" != 1 ]; then
    psql_admin -c "CREATE DATABASE $DATABASE OWNER $ROLE" >&2
  fi
  echo "export CXLAYER_TEST_DATABASE_URL=postgresql://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
}

stop() {
  BIN=$(find_bindir) || { log "postgresql is not installed; nothing to stop"; return; }
  if [ -f "$DATA/PG_VERSION" ] && as_postgres "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    as_postgres "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2
  fi
  rm -rf "$DATA" "$LOG"
  log "stopped"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac
