#!/usr/bin/env bash
# Start a throwaway PostgreSQL on 127.0.0.1 for the tests.
#   POSTGRES_DIR   directory for the cluster, socket and env.sh (required)
#   POSTGRES_PORT  TCP port (default 55432)
# initdb and postgres refuse to run as root: they run as the "postgres" user.
set -euo pipefail
DIR=${POSTGRES_DIR:?set POSTGRES_DIR}
PORT=${POSTGRES_PORT:-55432}

if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    for _ in $(seq 60); do
        if ! fuser /var/lib/dpkg/lock-frontend >/dev/null 2>&1; then break; fi
        sleep 2
    done
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null || {
        apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; }
fi
BIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -1)")

RUN_AS=()
if [ "$(id -u)" = 0 ]; then RUN_AS=(runuser -u postgres --); fi

mkdir -p "$DIR"
if [ -f "$DIR/data/postmaster.pid" ]; then
    echo "postgres already running in $DIR" >&2
    exit 1
fi
[ "$(id -u)" = 0 ] && chown -R postgres: "$DIR"
chmod 755 "$DIR"
if [ ! -f "$DIR/data/PG_VERSION" ]; then
    "${RUN_AS[@]}" "$BIN/initdb" -A trust -U postgres -E UTF8 -D "$DIR/data" >"$DIR/initdb.log" 2>&1 || {
        echo "initdb failed:" >&2; cat "$DIR/initdb.log" >&2; exit 1; }
fi
"${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=200" start >/dev/null || {
    echo "postgres did not start:" >&2; cat "$DIR/postgres.log" >&2; exit 1; }

cat >"$DIR/env.sh" <<ENV
export POSTGRES_TEST_HOST=127.0.0.1
export POSTGRES_TEST_PORT=$PORT
export POSTGRES_TEST_USER=postgres
export POSTGRES_TEST_SOCKET_DIR=$DIR
export POSTGRES_TEST_BIN=$BIN
ENV
