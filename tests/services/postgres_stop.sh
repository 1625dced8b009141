#!/usr/bin/env bash
# Stop the PostgreSQL started by postgres_start.sh in POSTGRES_DIR (only that one).
set -uo pipefail
DIR=${POSTGRES_DIR:?set POSTGRES_DIR}
[ -f "$DIR/data/postmaster.pid" ] || exit 0
BIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -1)")
RUN_AS=()
if [ "$(id -u)" = 0 ]; then RUN_AS=(runuser -u postgres --); fi
"${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m fast -w -t 60 stop >/dev/null
