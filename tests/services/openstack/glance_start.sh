#!/usr/bin/env bash
# Real Glance (PyPI glance 33.0.0 = same cycle as keystone 30.0.0) on 127.0.0.1:$GLANCE_PORT:
# the bed's MariaDB (on SQLite, a failed upload and the delete that follows it meet as "database is locked"
# -> HTTP 500 and the image stays), file store, keystonemiddleware authtoken against osbed Keystone, gunicorn serving
# glance.wsgi.api:application (the WSGI entry point; native threads, no eventlet server).
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
BASE=$OSBED/glance; VENV=${GLANCE_VENV:-$OSBED_CACHE/venv-glance}
ensure_venv "$VENV" "glance==${GLANCE_VERSION:-33.0.0}" gunicorn openstacksdk PyMySQL
"$OSBED_HOME/mariadb_start.sh" glance glance
mkdir -p "$BASE"/{images,staging,tasks,log,lock}
cp "$VENV/etc/glance/glance-api-paste.ini" "$BASE/glance-api-paste.ini"
# Quotas are Keystone's unified limits (use_keystone_limits): the registered defaults (ks_limits.py) are generous,
# so a test tightens one project's limits only.  oslo.limit reads them as the glance service user.
{ cat <<CONF
[DEFAULT]
log_file = $BASE/log/glance-api.log
enabled_backends = fs:file
worker_self_reference_url = http://127.0.0.1:$GLANCE_PORT
use_keystone_limits = true
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $BASE/images
[os_glance_staging_store]
filesystem_store_datadir = $BASE/staging
[os_glance_tasks_store]
filesystem_store_datadir = $BASE/tasks
[oslo_concurrency]
lock_path = $BASE/lock
[paste_deploy]
flavor = keystone
[oslo_limit]
endpoint_service_type = image
endpoint_region_name = RegionOne
CONF
ks_auth glance; database_conf glance glance; authtoken_conf glance; } > "$BASE/glance-api.conf"
t0=$(date +%s.%N)
if [ ! -f "$BASE/db.synced" ]; then
  key=glance-${GLANCE_VERSION:-33.0.0}
  if ! cached_sql "$key"; then
    "$VENV/bin/glance-manage" --config-file "$BASE/glance-api.conf" db_sync >"$BASE/log/db_sync.log" 2>&1
    save_sql "$key" glance
  fi
  touch "$BASE/db.synced"
  "$KS_VENV/bin/python" "$OSBED_HOME/ks_register.py" glance image "http://127.0.0.1:$GLANCE_PORT"
  "$KS_VENV/bin/python" "$OSBED_HOME/ks_limits.py" image image_count_total=100000 image_count_uploading=1000 \
    image_size_total=10000000 image_stage_total=10000000
fi
t1=$(date +%s.%N); echo "glance db_sync+register: $(echo "$t1 - $t0" | bc) s"
export OS_GLANCE_CONFIG_DIR=$BASE
nohup "$VENV/bin/gunicorn" --bind "127.0.0.1:$GLANCE_PORT" --workers 1 --threads 4 --timeout 300 --keep-alive 75 \
  --no-control-socket --access-logfile "$BASE/log/access.log" \
  glance.wsgi.api:application >"$BASE/log/gunicorn.log" 2>&1 &
echo $! > "$BASE/glance.pid"
for i in $(seq 1 240); do
  curl -sf --max-time 2 -o /dev/null "http://127.0.0.1:$GLANCE_PORT/healthcheck" && break
  kill -0 "$(cat "$BASE/glance.pid")" 2>/dev/null || { tail -30 "$BASE/log/gunicorn.log"; exit 1; }
  sleep 0.25
done
curl -sf -o /dev/null "http://127.0.0.1:$GLANCE_PORT/healthcheck" || { echo "glance not up"; tail -30 "$BASE/log/gunicorn.log"; exit 1; }
echo "glance http://127.0.0.1:$GLANCE_PORT pid $(cat "$BASE/glance.pid") up after $(echo "$(date +%s.%N) - $t1" | bc) s"
