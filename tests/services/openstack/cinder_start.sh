#!/usr/bin/env bash
# Real Cinder (PyPI cinder 29.0.0) on loopback: cinder-api (gunicorn), cinder-scheduler, cinder-volume, cinder-backup,
# RabbitMQ transport, the bed's MariaDB (on SQLite, concurrent volume creates fail with "database is locked" -> 500). Volume backend = stock NfsDriver whose "share" is a BIND MOUNT of a local dir
# (kernel here has no nfs client): the driver skips mounting when its mount point is already in /proc/mounts.
# Backup = PosixBackupDriver into a local dir. Needs root (bind mount), qemu-utils, bin/sudo + bin/mount.nfs shims.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
BASE=$OSBED/cinder; VENV=${CINDER_VENV:-$OSBED_CACHE/venv-cinder}
ensure_venv "$VENV" "cinder==${CINDER_VERSION:-29.0.0}" gunicorn PyMySQL
command -v qemu-img >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends qemu-utils >/dev/null
mkdir -p "$BASE"/{log,state,lock,mnt,export,backups,conversion}
"$OSBED_HOME/mariadb_start.sh" cinder cinder
SHARE=127.0.0.1:/osbed/nfs1
MNT=$BASE/mnt/$(printf %s "$SHARE" | md5sum | cut -d' ' -f1)
mkdir -p "$MNT"
grep -q " $MNT " /proc/mounts || mount --bind "$BASE/export" "$MNT"
echo "$SHARE" > "$BASE/nfs_shares"
cp "$VENV/etc/cinder/api-paste.ini" "$BASE/api-paste.ini"
{ cat <<CONF
[DEFAULT]
transport_url = rabbit://guest:guest@127.0.0.1:$RABBIT_PORT/
auth_strategy = keystone
host = osbed
my_ip = 127.0.0.1
state_path = $BASE/state
image_conversion_dir = $BASE/conversion
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = $CINDER_PORT
enabled_backends = nfs1
glance_api_servers = http://127.0.0.1:$GLANCE_PORT
backup_driver = cinder.backup.drivers.posix.PosixBackupDriver
backup_posix_path = $BASE/backups
# every test session works in one project: Cinder's default quotas (10 volumes) would run out;
# the defaults below count only when the quota class 'default' kept in the database is not used
use_default_quota_class = false
quota_volumes = 1000
quota_snapshots = 1000
quota_gigabytes = 100000
quota_backups = 1000
quota_backup_gigabytes = 100000
rootwrap_config = $BASE/rootwrap.conf
api_paste_config = $BASE/api-paste.ini
[oslo_concurrency]
lock_path = $BASE/lock
[privsep_osbrick]
helper_command = $VENV/bin/privsep-helper --config-file $BASE/cinder.conf --privsep_context os_brick.privileged.default --privsep_sock_path $BASE/state/osbrick.sock
[nfs1]
volume_driver = cinder.volume.drivers.nfs.NfsDriver
volume_backend_name = nfs1
nfs_shares_config = $BASE/nfs_shares
nfs_mount_point_base = $BASE/mnt
nfs_snapshot_support = true
nfs_sparsed_volumes = true
nas_secure_file_operations = false
nas_secure_file_permissions = false
CONF
database_conf cinder cinder; authtoken_conf cinder
echo "[nova]"; ks_auth cinder
echo "[service_user]"; echo "send_service_user_token = true"; ks_auth cinder
} > "$BASE/cinder.conf"
export PATH=$OSBED_HOME/bin:$VENV/bin:$PATH
t0=$(date +%s.%N)
if [ ! -f "$BASE/db.synced" ]; then
  key=cinder-${CINDER_VERSION:-29.0.0}
  if ! cached_sql "$key"; then
    "$VENV/bin/cinder-manage" --config-file "$BASE/cinder.conf" db sync >"$BASE/log/db_sync.log" 2>&1
    save_sql "$key" cinder
  fi
  "$KS_VENV/bin/python" "$OSBED_HOME/ks_register.py" cinderv3 block-storage "http://127.0.0.1:$CINDER_PORT/v3/%(project_id)s" cinder
fi
t1=$(date +%s.%N); echo "cinder db sync+register: $(echo "$t1 - $t0" | bc) s"
# Pitfall (as keystone): cinder.wsgi.wsgi parses sys.argv[1:] -> under gunicorn set argv explicitly.
cat > "$BASE/cinder_wsgi.py" <<PY
import sys
sys.argv = [sys.argv[0], "--config-file", "$BASE/cinder.conf"]
from cinder.wsgi.api import application  # noqa
PY
nohup "$VENV/bin/gunicorn" --bind "127.0.0.1:$CINDER_PORT" --workers 1 --threads 4 --timeout 300 --keep-alive 75 --no-control-socket \
  --pythonpath "$BASE" --access-logfile "$BASE/log/access.log" cinder_wsgi:application >"$BASE/log/api.log" 2>&1 &
echo $! > "$BASE/api.pid"
for s in scheduler volume backup; do
  nohup "$VENV/bin/cinder-$s" --config-file "$BASE/cinder.conf" --log-file "$BASE/log/$s.log" >"$BASE/log/$s.out" 2>&1 &
  echo $! > "$BASE/$s.pid"
done
"${GLANCE_VENV:-$OSBED_CACHE/venv-glance}/bin/python" - <<'PY'  # the glance venv has openstacksdk
import os, sys, time
import openstack
c = openstack.connect(auth_url=os.environ["OS_AUTH_URL"], username="admin", password=os.environ["OS_PASSWORD"],
    project_name="admin", user_domain_name="Default", project_domain_name="Default")
for i in range(240):
    try:
        svcs = {(s.binary, s.state) for s in c.block_storage.services()}
        if {("cinder-scheduler", "up"), ("cinder-volume", "up"), ("cinder-backup", "up")} <= svcs and \
           any(p.name.endswith("#nfs1") for p in c.block_storage.backend_pools()):
            print("cinder services up:", sorted(svcs)); sys.exit(0)
    except Exception as e:
        svcs = e
    for n in ("api", "scheduler", "volume", "backup"):
        try:
            os.kill(int(open(f"{os.environ['OSBED']}/cinder/{n}.pid").read()), 0)
        except OSError:
            log = f"{os.environ['OSBED']}/cinder/log/{n}.log"
            tail = open(log, errors="replace").read().splitlines()[-15:] if os.path.exists(log) else []
            sys.exit(f"cinder-{n} died, see {os.environ['OSBED']}/cinder/log/; its last lines:\n" + "\n".join(tail))
    time.sleep(0.5)
sys.exit(f"cinder not ready: {svcs}")
PY
echo "cinder up after $(echo "$(date +%s.%N) - $t1" | bc) s"
