#!/usr/bin/env bash
# Start a throwaway MariaDB server (Debian's mariadb-server package) for Freezer's tests, as a
# plain background process with its own datadir, on 127.0.0.1:${MARIADB_PORT:-3307}.
# Usage: mariadb_start.sh   (env: MARIADB_DIR, MARIADB_PORT, MARIADB_ROOT_PASSWORD)
# Writes $MARIADB_DIR/my.cnf (use with --defaults-file) and $MARIADB_DIR/env.sh.
set -euo pipefail
DIR=${MARIADB_DIR:-${TMPDIR:-/tmp}/freezer-services/mariadb}
PORT=${MARIADB_PORT:-3307}
PW=${MARIADB_ROOT_PASSWORD:-rootpw}
RUN_USER=$(id -un)   # in CI this is root -> needs user=root, else mariadbd refuses to start

if ! command -v mariadbd >/dev/null || ! command -v mariadb-backup >/dev/null; then
  echo "installing mariadb-server mariadb-backup" >&2
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y \
    --no-install-recommends mariadb-server mariadb-client mariadb-backup >/dev/null
fi
if [ -f "$DIR/launcher.pid" ] && kill -0 "$(cat "$DIR/launcher.pid")" 2>/dev/null; then
  echo "mariadb already running (pid $(cat "$DIR/launcher.pid"))" >&2; exit 1
fi
rm -rf "$DIR"; mkdir -p "$DIR/data" "$DIR/tmp"; chmod 700 "$DIR"

cat > "$DIR/my.cnf" <<CNF
[client]
host=127.0.0.1
port=$PORT
socket=$DIR/mysqld.sock
user=root
password=$PW

[mysqld]
user=$RUN_USER
basedir=/usr
datadir=$DIR/data
tmpdir=$DIR/tmp
socket=$DIR/mysqld.sock
pid-file=$DIR/mysqld.pid
log-error=$DIR/mysqld.err
port=$PORT
bind-address=127.0.0.1
skip-name-resolve
performance_schema=OFF
innodb_buffer_pool_size=64M
innodb_log_file_size=32M
innodb_flush_log_at_trx_commit=2
log-bin=$DIR/data/binlog
server-id=1
character-set-server=utf8mb4

[mariadb-backup]
# mariadb-backup reads [client] for credentials and [mysqld] for datadir
CNF

# --defaults-file must be the FIRST option; it keeps /etc/mysql/* out of the picture
mariadb-install-db --defaults-file="$DIR/my.cnf" --auth-root-authentication-method=normal \
  --skip-test-db >"$DIR/install-db.log" 2>&1 || { cat "$DIR/install-db.log" >&2; exit 1; }

nohup mariadbd --defaults-file="$DIR/my.cnf" >"$DIR/mariadbd.out" 2>&1 &
echo $! > "$DIR/launcher.pid"

for i in $(seq 1 300); do
  [ -S "$DIR/mysqld.sock" ] && mariadb-admin --defaults-file="$DIR/my.cnf" --protocol=socket \
      --password= ping >/dev/null 2>&1 && break
  if ! kill -0 "$(cat "$DIR/launcher.pid")" 2>/dev/null; then
    echo "mariadbd died:" >&2; tail -30 "$DIR/mysqld.err" >&2; exit 1
  fi
  sleep 0.1
done
# root has no password right after install-db (auth method 'normal'): set one, and add
# root@127.0.0.1 because skip-name-resolve means TCP clients never match 'localhost'.
mariadb --defaults-file="$DIR/my.cnf" --protocol=socket --password= <<SQL
ALTER USER root@localhost IDENTIFIED BY '$PW';
CREATE USER IF NOT EXISTS root@'127.0.0.1';
ALTER USER root@'127.0.0.1' IDENTIFIED BY '$PW';
GRANT ALL PRIVILEGES ON *.* TO root@'127.0.0.1' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
mariadb-admin --defaults-file="$DIR/my.cnf" ping >/dev/null   # TCP + password works

cat > "$DIR/env.sh" <<ENV
export MARIADB_TEST_HOST=127.0.0.1
export MARIADB_TEST_PORT=$PORT
export MARIADB_TEST_USER=root
export MARIADB_TEST_PASSWORD=$PW
export MARIADB_TEST_SOCKET=$DIR/mysqld.sock
export MARIADB_TEST_DEFAULTS_FILE=$DIR/my.cnf
export MARIADB_TEST_DATADIR=$DIR/data
ENV
echo "mariadb up on 127.0.0.1:$PORT pid $(cat "$DIR/launcher.pid"); source $DIR/env.sh"
