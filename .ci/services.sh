#!/usr/bin/env bash
# Start or stop the database servers the storage tests run against.
#
#   eval "$(bash .ci/services.sh start)"   # installs if missing, starts, prints the exports
#   bash .ci/services.sh stop
#
# Both subcommands are idempotent.  The servers listen on 127.0.0.1 only:
#   PostgreSQL  127.0.0.1:55432  data in /tmp/flowyml-pg  (trust auth, fsync off)
#   MariaDB     127.0.0.1:33306  data in /tmp/flowyml-my
# The test URLs are fixed (the users may create databases: every test makes its own):
#   FLOWYML_TEST_POSTGRES_URL=postgresql://flowyml:flowyml@127.0.0.1:55432/flowyml
#   FLOWYML_TEST_MYSQL_URL=mysql://flowyml:flowyml@127.0.0.1:33306/flowyml
# Progress goes to stderr; stdout carries only the export lines.
set -euo pipefail

PGDATA=/tmp/flowyml-pg
PGPORT=55432
MYDIR=/tmp/flowyml-my
MYPORT=33306
PG_URL="postgresql://flowyml:flowyml@127.0.0.1:$PGPORT/flowyml"
MY_URL="mysql://flowyml:flowyml@127.0.0.1:$MYPORT/flowyml"
TIMEOUT=60

log() { echo "services: $*" >&2; }

APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    apt-get update -qq >&2
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

pg_psql() { psql -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }

start_postgres() {
  local bin
  bin=$(pg_bin)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    apt_install postgresql
    bin=$(pg_bin)
  fi
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    log "initdb $PGDATA"
    runuser -u postgres -- "$bin/initdb" -D "$PGDATA" -A trust -U postgres --no-sync -E UTF8 >/dev/null
  fi
  if ! runuser -u postgres -- "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    # A pid file left by a killed server would make the new one refuse to start.
    rm -f "$PGDATA/postmaster.pid"
    log "starting PostgreSQL on 127.0.0.1:$PGPORT"
    runuser -u postgres -- "$bin/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t "$TIMEOUT" \
      start -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k /tmp -c fsync=off -c max_connections=200" >&2
  fi
  local waited=0
  until pg_psql -c "SELECT 1" >/dev/null 2>&1; do
    [ "$waited" -ge "$TIMEOUT" ] && { log "PostgreSQL not ready after ${TIMEOUT}s"; cat "$PGDATA/server.log" >&2; exit 1; }
    sleep 0.2; waited=$((waited + 1))
  done
  pg_psql -c "SELECT 1 FROM pg_roles WHERE rolname='flowyml'" | grep -q 1 ||
    pg_psql -c "CREATE ROLE flowyml LOGIN PASSWORD 'flowyml' CREATEDB"
  pg_psql -c "SELECT 1 FROM pg_database WHERE datname='flowyml'" | grep -q 1 ||
    pg_psql -c "CREATE DATABASE flowyml OWNER flowyml"
  log "PostgreSQL ready"
}

stop_postgres() {
  local bin
  bin=$(pg_bin)
  [ -n "$bin" ] && [ -s "$PGDATA/PG_VERSION" ] || return 0
  if runuser -u postgres -- "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    log "stopping PostgreSQL"
    runuser -u postgres -- "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >&2
  fi
}

my_admin() { mariadb-admin --protocol=tcp -h 127.0.0.1 -P "$MYPORT" -uroot "$@"; }

my_running() {
  [ -s "$MYDIR/mysqld.pid" ] && kill -0 "$(cat "$MYDIR/mysqld.pid")" 2>/dev/null &&
    ! grep -q zombie "/proc/$(cat "$MYDIR/mysqld.pid")/status" 2>/dev/null
}

start_mariadb() {
  command -v mariadbd >/dev/null 2>&1 || apt_install mariadb-server
  mkdir -p "$MYDIR"
  chown mysql:mysql "$MYDIR"
  if [ ! -d "$MYDIR/mysql" ]; then
    log "mariadb-install-db $MYDIR"
    mariadb-install-db --datadir="$MYDIR" --user=mysql --auth-root-authentication-method=normal \
      --skip-test-db >/dev/null
  fi
  if ! my_running; then
    log "starting MariaDB on 127.0.0.1:$MYPORT"
    setsid nohup mariadbd --no-defaults --datadir="$MYDIR" --user=mysql --bind-address=127.0.0.1 \
      --port="$MYPORT" --socket="$MYDIR/mysqld.sock" --pid-file="$MYDIR/mysqld.pid" \
      --log-error="$MYDIR/error.log" --skip-log-bin --skip-name-resolve \
      --innodb-flush-log-at-trx-commit=2 --max-connections=300 </dev/null >/dev/null 2>&1 &
  fi
  local waited=0
  until my_admin ping >/dev/null 2>&1; do
    [ "$waited" -ge $((TIMEOUT * 5)) ] && { log "MariaDB not ready after ${TIMEOUT}s"; cat "$MYDIR/error.log" >&2; exit 1; }
    sleep 0.2; waited=$((waited + 1))
  done
  mariadb --protocol=tcp -h 127.0.0.1 -P "$MYPORT" -uroot -e "
    CREATE USER IF NOT EXISTS 'flowyml'@'127.0.0.1' IDENTIFIED BY 'flowyml';
    CREATE USER IF NOT EXISTS 'flowyml'@'localhost' IDENTIFIED BY 'flowyml';
    GRANT ALL PRIVILEGES ON *.* TO 'flowyml'@'127.0.0.1';
    GRANT ALL PRIVILEGES ON *.* TO 'flowyml'@'localhost';
    CREATE DATABASE IF NOT EXISTS flowyml CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;" >&2
  log "MariaDB ready"
}

stop_mariadb() {
  my_running || return 0
  local pid waited=0
  pid=$(cat "$MYDIR/mysqld.pid")
  log "stopping MariaDB (pid $pid)"
  kill "$pid"
  while kill -0 "$pid" 2>/dev/null && ! grep -q zombie "/proc/$pid/status" 2>/dev/null; do
    [ "$waited" -ge $((TIMEOUT * 5)) ] && { log "MariaDB did not stop"; exit 1; }
    sleep 0.2; waited=$((waited + 1))
  done
}

case "${1:-}" in
  start)
    start_postgres
    start_mariadb
    echo "export FLOWYML_TEST_POSTGRES_URL=$PG_URL"
    echo "export FLOWYML_TEST_MYSQL_URL=$MY_URL"
    ;;
  stop)
    stop_mariadb
    stop_postgres
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
