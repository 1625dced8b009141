#!/usr/bin/env bash
# Real Placement (PyPI openstack-placement 16.0.0) + Nova (PyPI nova 34.0.0) on loopback with the FAKE virt driver:
# placement-api + nova-api under gunicorn, nova-conductor, nova-scheduler, nova-compute; RabbitMQ; databases in the
# bed's MariaDB (mariadb_start.sh; on SQLite, server deletes fail about half the time with "database is locked").
# compute_driver = osbed_fake.UploadingFakeDriver = nova.virt.fake.FakeDriver whose
# snapshot() also uploads a small fake disk to Glance (stock FakeDriver uploads nothing -> image stays "queued").
# No Neutron: boot servers with networks="none" (microversion >= 2.37).
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
BASE=$OSBED/nova; PB=$OSBED/placement; VENV=${NOVA_VENV:-$OSBED_CACHE/venv-nova}
ensure_venv "$VENV" "nova==${NOVA_VERSION:-34.0.0}" "openstack-placement==${PLACEMENT_VERSION:-16.0.0}" \
  gunicorn openstacksdk PyMySQL
SITE=$("$VENV/bin/python" -c 'import nova.virt, os; print(os.path.dirname(nova.virt.__file__))')
cat > "$SITE/osbed_fake.py.$$" <<'PY'  # written then renamed: beds share the venv
"""osbed: FakeDriver whose snapshot uploads bytes, so createImage yields an ACTIVE, downloadable image
(unless the instance's metadata has osbed_snapshot=hang: then the image stays queued, as with a stuck hypervisor)."""
import io
from nova.image import glance
from nova.virt import fake


class UploadingFakeDriver(fake.FakeDriver):
    def snapshot(self, context, instance, image_id, update_task_state):
        super().snapshot(context, instance, image_id, update_task_state)
        if (instance.metadata or {}).get("osbed_snapshot") == "hang":  # tests: a snapshot that never gets active
            return
        data = (f"osbed fake disk of instance {instance.uuid}\n".encode()) * 16384
        api = glance.API()
        meta = api.get(context, image_id)
        meta.update(disk_format=meta.get("disk_format") or "raw",
                    container_format=meta.get("container_format") or "bare")
        api.update(context, image_id, meta, data=io.BytesIO(data), purge_props=False)

    # Cinder's NFS driver snapshots an attached volume with Nova's help ("assisted" snapshots): it adds a qcow2
    # overlay on the share and waits for the hypervisor to switch the guest to it. No guest writes here, so
    # there is nothing to switch: tell Cinder at once that Nova's part is done, as the libvirt driver does.
    def volume_snapshot_create(self, context, instance, volume_id, create_info):
        from nova.volume import cinder
        cinder.API().update_snapshot_status(context, create_info["snapshot_id"], "creating")

    def volume_snapshot_delete(self, context, instance, volume_id, snapshot_id, delete_info):
        from nova.volume import cinder
        cinder.API().update_snapshot_status(context, snapshot_id, "deleting")
PY
mv "$SITE/osbed_fake.py.$$" "$SITE/osbed_fake.py"
mkdir -p "$BASE"/{log,state,lock,instances} "$PB/log"
# nova_api, nova_cell0, nova_cell1 and placement live in the bed's MariaDB (mariadb_start.sh), reached by its socket
"$OSBED_HOME/mariadb_start.sh" nova nova_api nova_cell0 nova_cell1 placement
DB=$OSBED/mariadb
DBURL="mysql+pymysql://nova:$SERVICE_PASSWORD@localhost"; DBQ="?unix_socket=$DB/mysqld.sock"
{ printf '[DEFAULT]\n[api]\nauth_strategy = keystone\n'
database_conf nova placement placement_database; authtoken_conf placement; } > "$PB/placement.conf"
{ cat <<CONF
[DEFAULT]
transport_url = rabbit://guest:guest@127.0.0.1:$RABBIT_PORT/
host = osbed
my_ip = 127.0.0.1
state_path = $BASE/state
instances_path = $BASE/instances
compute_driver = osbed_fake.UploadingFakeDriver
use_neutron = true
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = $BASE/api-paste.ini
[oslo_concurrency]
lock_path = $BASE/lock
[glance]
api_servers = http://127.0.0.1:$GLANCE_PORT
[cinder]
os_region_name = RegionOne
[scheduler]
discover_hosts_in_cells_interval = 2
workers = 1
[conductor]
workers = 1
[filter_scheduler]
enabled_filters = ComputeFilter
[quota]
# every test session boots its instances in one project: the default 10 would run out
instances = 1000
cores = 1000
ram = 1048576
[libvirt]
[vnc]
enabled = false
CONF
database_conf nova nova_api api_database; database_conf nova nova_cell1; authtoken_conf nova
echo "[placement]"; echo "region_name = RegionOne"; ks_auth placement
echo "[neutron]"; echo "region_name = RegionOne"; ks_auth nova
echo "[service_user]"; echo "send_service_user_token = true"; ks_auth nova
} > "$BASE/nova.conf"
cp "$VENV/etc/nova/api-paste.ini" "$BASE/api-paste.ini"
# Neutron stand-in (see neutron_stub.py): real Neutron would need agents/port binding; nova's server GET needs it.
nohup "$VENV/bin/python" "$OSBED_HOME/neutron_stub.py" $NEUTRON_PORT >"$BASE/log/neutron_stub.log" 2>&1 &
echo $! > "$BASE/neutron_stub.pid"
NM="$VENV/bin/nova-manage --config-file $BASE/nova.conf"
t0=$(date +%s.%N)
if [ ! -f "$BASE/db.synced" ]; then
  key=nova-${NOVA_VERSION:-34.0.0}-placement-${PLACEMENT_VERSION:-16.0.0}
  if cached_sql "$key"; then
    # the cached cell mappings name another bed's socket and RabbitMQ: map this bed's cells afresh
    mariadb --socket="$DB/mysqld.sock" -e "DELETE FROM nova_api.cell_mappings"
    $NM cell_v2 map_cell0 --database_connection "$DBURL/nova_cell0$DBQ" >>"$BASE/log/db_sync.log" 2>&1
    $NM cell_v2 create_cell --name cell1 >>"$BASE/log/db_sync.log" 2>&1
  else
    "$VENV/bin/placement-manage" --config-file "$PB/placement.conf" db sync >"$PB/log/db_sync.log" 2>&1
    $NM api_db sync >"$BASE/log/db_sync.log" 2>&1
    $NM cell_v2 map_cell0 --database_connection "$DBURL/nova_cell0$DBQ" >>"$BASE/log/db_sync.log" 2>&1
    $NM db sync >>"$BASE/log/db_sync.log" 2>&1
    save_sql "$key" nova_api nova_cell0 nova_cell1 placement
    $NM cell_v2 create_cell --name cell1 >>"$BASE/log/db_sync.log" 2>&1
  fi
  "$KS_VENV/bin/python" "$OSBED_HOME/ks_register.py" placement placement "http://127.0.0.1:$PLACEMENT_PORT" placement
  "$KS_VENV/bin/python" "$OSBED_HOME/ks_register.py" neutron network "http://127.0.0.1:$NEUTRON_PORT" neutron
  "$KS_VENV/bin/python" "$OSBED_HOME/ks_register.py" nova compute "http://127.0.0.1:$NOVA_PORT/v2.1" nova
  touch "$BASE/db.synced"
fi
t1=$(date +%s.%N); echo "placement+nova db sync+register: $(echo "$t1 - $t0" | bc) s"
# Pitfall (as keystone): both WSGI apps parse sys.argv -> blank it under gunicorn.
cat > "$PB/placement_wsgi.py" <<PY
import os, sys
sys.argv = sys.argv[:1]
os.environ["OS_PLACEMENT_CONFIG_DIR"] = "$PB"
from placement.wsgi.api import application  # noqa
PY
cat > "$BASE/nova_wsgi.py" <<PY
import os, sys
sys.argv = sys.argv[:1]
os.environ["OS_NOVA_CONFIG_DIR"] = "$BASE"; os.environ["OS_NOVA_CONFIG_FILES"] = "api-paste.ini;nova.conf"  # paste file must come first
from nova.wsgi.osapi_compute import application  # noqa
PY
G="--workers 1 --threads 4 --timeout 300 --keep-alive 75 --no-control-socket"
nohup "$VENV/bin/gunicorn" --bind 127.0.0.1:$PLACEMENT_PORT $G --pythonpath "$PB" --access-logfile "$PB/log/access.log" \
  placement_wsgi:application >"$PB/log/api.log" 2>&1 &
echo $! > "$PB/api.pid"
nohup "$VENV/bin/gunicorn" --bind 127.0.0.1:$NOVA_PORT $G --pythonpath "$BASE" --access-logfile "$BASE/log/access.log" \
  nova_wsgi:application >"$BASE/log/api.log" 2>&1 &
echo $! > "$BASE/api.pid"
# The Python below starts nova-conductor, nova-scheduler and nova-compute, and waits for all of it to be up.
# A daemon that dies, or that runs without registering itself for STALL seconds, is restarted (twice at most):
# nova 34's services fork their worker from a process that already runs threads, and under a loaded CI such a
# worker was once seen to hang before it registered (only nova-scheduler came up in four minutes).
VENV="$VENV" "$VENV/bin/python" - <<'PY'
import os, signal, subprocess, sys, time
import openstack
O = os.environ["OSBED"]
STALL, DEADLINE, RESTARTS = 90.0, 480.0, 2
c = openstack.connect(auth_url=os.environ["OS_AUTH_URL"], username="admin", password=os.environ["OS_PASSWORD"],
    project_name="admin", user_domain_name="Default", project_domain_name="Default")


def last_lines(d, n):
    tails = []
    for f in (f"{O}/{d}/log/{n}.log", f"{O}/{d}/log/{n}.out"):
        if os.path.exists(f):
            tails += open(f, errors="replace").read().splitlines()[-15:]
    return "\n".join(tails)


def pid_of(d, n):
    try:
        return int(open(f"{O}/{d}/{n}.pid").read())
    except (OSError, ValueError):
        return None


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


launched = {}


def launch(n):
    """Start nova-<n> detached, in a session of its own, its pid in nova/<n>.pid: at start-up and for a restart."""
    with open(f"{O}/nova/log/{n}.out", "ab") as out:
        p = subprocess.Popen([f"{os.environ['VENV']}/bin/nova-{n}", "--config-file", f"{O}/nova/nova.conf",
                              "--log-file", f"{O}/nova/log/{n}.log"], stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                             start_new_session=True)
    open(f"{O}/nova/{n}.pid", "w").write(str(p.pid))
    launched[n] = time.monotonic()


def restart(n, why):
    """Kill nova-<n> with its forked workers (its whole session) and start it again."""
    pid = pid_of("nova", n)
    print(f"nova-{n} {why}, restarting it; its last lines:\n{last_lines('nova', n)}", flush=True)
    if pid and alive(pid):
        os.killpg(pid, signal.SIGKILL)
    launch(n)


for n in ("conductor", "scheduler", "compute"):
    launch(n)
restarts = dict.fromkeys(launched, 0)
registered = {}  # daemon -> when its service first showed as up
begin = time.monotonic()
err = None
while time.monotonic() - begin < DEADLINE:
    now = time.monotonic()
    try:
        svcs = {(s.binary, s.state) for s in c.compute.services()}
        hv = list(c.compute.hypervisors())
        for n in launched:
            if (f"nova-{n}", "up") in svcs:
                registered.setdefault(n, now)
        if len(registered) == len(launched) and hv:
            print("nova services up:", sorted(svcs), "hypervisors:", [h.name for h in hv]); sys.exit(0)
        err = svcs
    except Exception as e:
        err = e
    for d, n in (("placement", "api"), ("nova", "api")):
        if not alive(pid_of(d, n) or 0):
            sys.exit(f"{d}-{n} died, see {O}/{d}/log/; its last lines:\n{last_lines(d, n)}")
    for n in launched:
        if n in registered:
            continue
        # nova-compute registers through nova-conductor: its wait starts when the conductor is up
        since = max(launched[n], registered.get("conductor", now)) if n == "compute" else launched[n]
        why = "died" if not alive(pid_of("nova", n) or 0) else (
            f"has not registered in {now - since:.0f} s" if now - since > STALL else None)
        if why and restarts[n] >= RESTARTS:
            sys.exit(f"nova-{n} {why} after {restarts[n]} restarts, see {O}/nova/log/; its last lines:\n"
                     f"{last_lines('nova', n)}")
        if why:
            restarts[n] += 1
            restart(n, why)
    time.sleep(0.5)
tails = "\n".join(f"-- nova-{n}:\n{last_lines('nova', n)}" for n in launched if n not in registered)
sys.exit(f"nova not ready after {DEADLINE:.0f} s: {err}\n{tails}")
PY
echo "placement+nova up after $(echo "$(date +%s.%N) - $t1" | bc) s"
