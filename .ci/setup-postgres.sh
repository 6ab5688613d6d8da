#!/usr/bin/env bash
# Install and start a PostgreSQL server on 127.0.0.1 with user and database cp4cds (password
# cp4cds) for the job store tests. Idempotent, needs no input, runs as root, no systemd.
# Prints the SQLAlchemy URL of the database on stdout (messages go to stderr):
#   export CP4CDS_WPS_TEST_POSTGRES_URL=$(.ci/setup-postgres.sh)
set -euo pipefail

NAME=cp4cds
PASSWORD=cp4cds

log() { echo "setup-postgres: $*" >&2; }

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing postgresql"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
VERSION=$(ls /usr/lib/postgresql | sort -V | tail -n 1)

if [ ! -d "/etc/postgresql/$VERSION/main" ]; then
    log "creating cluster $VERSION/main"
    pg_createcluster "$VERSION" main >&2
fi
CONF_D=/etc/postgresql/$VERSION/main/conf.d
if [ "$(cat "$CONF_D/cp4cds.conf" 2>/dev/null)" != "listen_addresses = '127.0.0.1'" ]; then
    echo "listen_addresses = '127.0.0.1'" >"$CONF_D/cp4cds.conf"
    pg_ctlcluster "$VERSION" main status >/dev/null 2>&1 && pg_ctlcluster "$VERSION" main restart
fi
if ! pg_ctlcluster "$VERSION" main status >/dev/null 2>&1; then
    log "starting cluster $VERSION/main"
    pg_ctlcluster "$VERSION" main start >&2
fi
PORT=$(pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main" {print $3}')
for _ in $(seq 100); do
    pg_isready -q -h 127.0.0.1 -p "$PORT" && break
    sleep 0.2
done
pg_isready -h 127.0.0.1 -p "$PORT" >&2

sql() { runuser -u postgres -- psql -p "$PORT" -v ON_ERROR_STOP=1 -qtAc "$1"; }
if [ -z "$(sql "SELECT 1 FROM pg_roles WHERE rolname = '$NAME'")" ]; then
    log "creating user $NAME"
    sql "CREATE ROLE $NAME LOGIN PASSWORD '$PASSWORD'"
fi
sql "ALTER ROLE $NAME PASSWORD '$PASSWORD'"
if [ -z "$(sql "SELECT 1 FROM pg_database WHERE datname = '$NAME'")" ]; then
    log "creating database $NAME"
    sql "CREATE DATABASE $NAME OWNER $NAME"
fi

echo "postgresql+psycopg://$NAME:$PASSWORD@127.0.0.1:$PORT/$NAME"
