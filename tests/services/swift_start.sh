#!/usr/bin/env bash
# A real OpenStack Swift "all in one" on loopback for Freezer's tests, from Debian's packages
# (swift 2.30.1 in bookworm): memcached + account/container/object servers + proxy
# with tempauth. One replica, one device = a plain directory, mount_check=false.
#   auth:   http://127.0.0.1:${SWIFT_PROXY_PORT:-8080}/auth/v1.0   user $SWIFT_USER  key $SWIFT_KEY
# Usage: swift_start.sh    (env: SWIFT_DIR, SWIFT_PROXY_PORT, SWIFT_PORT_BASE or SWIFT_OBJECT_PORT/
#                           SWIFT_CONTAINER_PORT/SWIFT_ACCOUNT_PORT, SWIFT_MEMCACHED_PORT, SWIFT_WORKERS,
#                           SWIFT_USER (account:user, default test:tester), SWIFT_KEY (default testing),
#                           SWIFT_BIN_DIR = dir with swift-*-server, e.g. a venv's bin after
#                           `pip install swift`; default: Debian's packages in /usr/bin)
#                           SWIFT_AUTH = tempauth (default) or keystone: authtoken + keystoneauth against
#                           SWIFT_KS_URL with service user swift/SWIFT_KS_PASSWORD (the OpenStack bed, which
#                           registers the endpoint and checks readiness itself; needs keystonemiddleware and
#                           python-memcached next to swift))
# Writes $SWIFT_DIR/env.sh (tempauth: ST_AUTH/ST_USER/ST_KEY, the env vars python-swiftclient's CLI reads).
set -euo pipefail
DIR=${SWIFT_DIR:-${TMPDIR:-/tmp}/freezer-services/swift}
PROXY_PORT=${SWIFT_PROXY_PORT:-8080}
BASE=${SWIFT_PORT_BASE:-6210}               # object=BASE, container=BASE+1, account=BASE+2
OBJ_PORT=${SWIFT_OBJECT_PORT:-$BASE}; CONT_PORT=${SWIFT_CONTAINER_PORT:-$((BASE+1))}
ACCT_PORT=${SWIFT_ACCOUNT_PORT:-$((BASE+2))}
ST_USER=${SWIFT_USER:-test:tester}; ST_KEY=${SWIFT_KEY:-testing}
ST_ACCOUNT=${ST_USER%%:*}; ST_NAME=${ST_USER#*:}
MC_PORT=${SWIFT_MEMCACHED_PORT:-11311}
RUN_USER=$(id -un)                          # servers setuid() to 'user' (default 'swift')
WORKERS=${SWIFT_WORKERS:-1}                 # 0 = no fork: one process per server (less memory)
AUTH=${SWIFT_AUTH:-tempauth}
case $AUTH in
  tempauth) AUTH_PIPELINE=tempauth ;;
  keystone) AUTH_PIPELINE="authtoken keystoneauth" ;;
  *) echo "SWIFT_AUTH must be tempauth or keystone, not $AUTH" >&2; exit 2 ;;
esac

BIN=${SWIFT_BIN_DIR:-/usr/bin}
need=()
for b in swift-proxy-server swift-object-server swift-container-server swift-account-server swift-ring-builder; do
  [ -x "$BIN/$b" ] && continue
  [ -n "${SWIFT_BIN_DIR:-}" ] && { echo "$BIN/$b missing (pip install swift into that venv)" >&2; exit 1; }
  need=(swift swift-proxy swift-object swift-container swift-account)
done
command -v memcached >/dev/null || need+=(memcached)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y \
    --no-install-recommends "${need[@]}" >/dev/null
fi
if ls "$DIR"/run/*.pid >/dev/null 2>&1; then
  for f in "$DIR"/run/*.pid; do
    if kill -0 "$(cat "$f")" 2>/dev/null; then echo "already running: $f" >&2; exit 1; fi
  done
fi
rm -rf "$DIR"
mkdir -p "$DIR/etc" "$DIR/srv/node/d1" "$DIR/run" "$DIR/log" "$DIR/cache"
ETC=$DIR/etc

# swift.conf: the servers read $swift_dir/swift.conf (set_swift_dir), not /etc/swift
cat > "$ETC/swift.conf" <<CONF
[swift-hash]
swift_hash_path_prefix = ci-prefix
swift_hash_path_suffix = ci-suffix
[storage-policy:0]
name = gold
default = yes
[swift-constraints]
CONF

common() {  # $1 = port
cat <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $1
workers = $WORKERS
user = $RUN_USER
swift_dir = $ETC
devices = $DIR/srv/node
mount_check = false
disable_fallocate = true
log_level = WARNING
log_requests = false
CONF
}
{ common $OBJ_PORT; cat <<CONF
[pipeline:main]
pipeline = object-server
[app:object-server]
use = egg:swift#object
CONF
} > "$ETC/object-server.conf"
{ common $CONT_PORT; cat <<CONF
[pipeline:main]
pipeline = container-server
[app:container-server]
use = egg:swift#container
CONF
} > "$ETC/container-server.conf"
{ common $ACCT_PORT; cat <<CONF
[pipeline:main]
pipeline = account-server
[app:account-server]
use = egg:swift#account
CONF
} > "$ETC/account-server.conf"

cat > "$ETC/proxy-server.conf" <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $PROXY_PORT
workers = $WORKERS
user = $RUN_USER
swift_dir = $ETC
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl $AUTH_PIPELINE copy slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

$(if [ "$AUTH" = keystone ]; then cat <<KS
[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
www_authenticate_uri = $SWIFT_KS_URL
auth_url = $SWIFT_KS_URL
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = swift
password = $SWIFT_KS_PASSWORD
delay_auth_decision = True
memcached_servers = 127.0.0.1:$MC_PORT
service_token_roles_required = true
[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = admin, member
reseller_admin_role = ResellerAdmin
KS
else cat <<TA
[filter:tempauth]
use = egg:swift#tempauth
user_admin_admin = admin .admin .reseller_admin
user_${ST_ACCOUNT}_${ST_NAME} = $ST_KEY .admin
TA
fi)

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MC_PORT

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:tempurl]
use = egg:swift#tempurl
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true
[filter:symlink]
use = egg:swift#symlink
CONF

# rings: part power 8, 1 replica, min_part_hours 1, one device each. Built in ONE python
# process with swift's RingBuilder API (9 swift-ring-builder CLI calls cost ~5 s on 2 cores);
# CLI equivalent:  swift-ring-builder object.builder create 8 1 1
#   swift-ring-builder object.builder add --region 1 --zone 1 --ip 127.0.0.1 --port 6210 --device d1 --weight 100
#   swift-ring-builder object.builder rebalance
RPY=/usr/bin/python3; [ -x "$BIN/python3" ] && RPY="$BIN/python3"
"$RPY" - "$ETC" "$OBJ_PORT" "$CONT_PORT" "$ACCT_PORT" <<'PY'
import sys
from swift.common.ring import RingBuilder
etc, ports = sys.argv[1], dict(zip(("object", "container", "account"), map(int, sys.argv[2:5])))
for kind, port in ports.items():
    b = RingBuilder(8, 1, 1)
    b.add_dev({"region": 1, "zone": 1, "ip": "127.0.0.1", "port": port, "device": "d1", "weight": 100})
    b.rebalance()
    b.get_ring().save(f"{etc}/{kind}.ring.gz")
    b.save(f"{etc}/{kind}.builder")
PY

# memcached: tempauth keeps its tokens ONLY in memcache (no memcache -> every request 401)
MC_USER_OPT=(); [ "$(id -u)" = 0 ] && MC_USER_OPT=(-u root)
nohup memcached -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 64 "${MC_USER_OPT[@]}" >"$DIR/log/memcached.log" 2>&1 &
echo $! > "$DIR/run/memcached.pid"

# each server: -v also logs to stdout (no syslog here); a server calls setsid() itself,
# so its SIGTERM handler's killpg(0) only hits its own workers.
for srv in object container account proxy; do
  nohup "$BIN/swift-$srv-server" "$ETC/$srv-server.conf" -v >"$DIR/log/$srv.log" 2>&1 &
  echo $! > "$DIR/run/$srv.pid"
done

wait_port() { # port name
  for i in $(seq 1 200); do
    (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
    kill -0 "$(cat "$DIR/run/$2.pid")" 2>/dev/null || { echo "$2 died:" >&2; tail -20 "$DIR/log/$2.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "$2 not listening on $1" >&2; exit 1
}
wait_port "$MC_PORT" memcached
wait_port "$OBJ_PORT" object; wait_port "$CONT_PORT" container; wait_port "$ACCT_PORT" account
wait_port "$PROXY_PORT" proxy

if [ "$AUTH" = keystone ]; then
  echo "export SWIFT_TEST_DEVICES=$DIR/srv/node" > "$DIR/env.sh"
  echo "swift up (keystone auth): proxy 127.0.0.1:$PROXY_PORT (pids in $DIR/run)"
  exit 0
fi
# end-to-end readiness: auth, then an account HEAD (autocreate) must answer 2xx
python3 - "$PROXY_PORT" "$ST_USER" "$ST_KEY" <<'PY'
import sys, time, urllib.request
port, user, key = sys.argv[1:4]
for i in range(100):
    try:
        r = urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/auth/v1.0",
            headers={"X-Auth-User": user, "X-Auth-Key": key}), timeout=5)
        tok, url = r.headers["X-Auth-Token"], r.headers["X-Storage-Url"]
        r = urllib.request.urlopen(urllib.request.Request(url, method="HEAD",
            headers={"X-Auth-Token": tok}), timeout=5)
        print("swift ready:", url, r.status); sys.exit(0)
    except Exception as e:
        err = e; time.sleep(0.1)
sys.exit(f"swift not ready: {err}")
PY

cat > "$DIR/env.sh" <<ENV
export ST_AUTH=http://127.0.0.1:$PROXY_PORT/auth/v1.0
export ST_USER=$ST_USER
export ST_KEY=$ST_KEY
export SWIFT_TEST_DEVICES=$DIR/srv/node
ENV
echo "swift up: proxy 127.0.0.1:$PROXY_PORT (pids in $DIR/run); source $DIR/env.sh"
