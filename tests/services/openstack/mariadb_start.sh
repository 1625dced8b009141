#!/usr/bin/env bash
# The bed's MariaDB (Debian mariadb-server) for Cinder, Nova and Placement: socket only, no TCP port.
# usage: mariadb_start.sh USER DATABASE...   starts the server unless it runs, then creates USER (password
# $SERVICE_PASSWORD) and the databases.  Why not SQLite: with several services writing (cinder-api, -volume,
# -backup, -scheduler; nova's conductor and API) SQLite answers "database is locked" under load -> HTTP 500.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
DB=$OSBED/mariadb
user=$1; shift
command -v mariadbd >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y \
  --no-install-recommends mariadb-server mariadb-client >/dev/null
if ! { [ -f "$DB/mariadb.pid" ] && kill -0 "$(cat "$DB/mariadb.pid")" 2>/dev/null; }; then
  if [ ! -d "$DB/data" ]; then
    mkdir -p "$DB/data" "$DB/tmp"
    cat > "$DB/my.cnf" <<CNF
[mysqld]
user=$(id -un)
datadir=$DB/data
tmpdir=$DB/tmp
socket=$DB/mysqld.sock
pid-file=$DB/mysqld.pid
log-error=$DB/mysqld.err
skip-networking
skip-name-resolve
skip-log-bin
innodb_buffer_pool_size=64M
innodb_flush_log_at_trx_commit=0
innodb_doublewrite=0
performance_schema=OFF
max_connections=300
CNF
    mariadb-install-db --defaults-file="$DB/my.cnf" --auth-root-authentication-method=socket >"$DB/install.log" 2>&1
  fi
  nohup mariadbd --defaults-file="$DB/my.cnf" >"$DB/out.log" 2>&1 &
  echo $! > "$DB/mariadb.pid"
fi
for i in $(seq 1 480); do
  mariadb --socket="$DB/mysqld.sock" -e 'select 1' >/dev/null 2>&1 && break
  kill -0 "$(cat "$DB/mariadb.pid")" 2>/dev/null || { echo "the bed's mariadbd died:"; tail -5 "$DB/mysqld.err"; exit 1; }
  sleep 0.25
done
sql="CREATE USER IF NOT EXISTS '$user'@'localhost' IDENTIFIED BY '$SERVICE_PASSWORD';"
for d in "$@"; do sql+=" CREATE DATABASE IF NOT EXISTS $d; GRANT ALL ON $d.* TO '$user'@'localhost';"; done
mariadb --socket="$DB/mysqld.sock" -e "$sql"
echo "mariadb: $user -> $*"
