# Common settings for the OpenStack bed scripts (sourced by each of them).
#   OSBED        the bed's own directory: data, logs, pids, ports.sh, env.sh.  Two beds on one machine
#                need two directories (the test fixture gives each pytest session a fresh tmp dir).
#   OSBED_CACHE  shared by every bed: the venvs and pip's cache (installs run under a file lock).
# Ports are chosen free once per bed (ports.sh in $OSBED) and reused by every script of that bed.
export OSBED_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)   # these scripts
export OSBED_CACHE=${OSBED_CACHE:-$HOME/.cache/freezer-services/openstack}
export OSBED=${OSBED:-$OSBED_CACHE/bed}
mkdir -p "$OSBED" "$OSBED_CACHE"
export PIP_CACHE_DIR=$OSBED_CACHE/pipcache
if [ ! -s "$OSBED/ports.sh" ]; then
  python3 - > "$OSBED/ports.sh.tmp" <<'PY'
import random, socket
names = ("KS_PORT GLANCE_PORT SWIFT_PROXY_PORT SWIFT_OBJECT_PORT SWIFT_CONTAINER_PORT SWIFT_ACCOUNT_PORT "
         "SWIFT_MEMCACHED_PORT CINDER_PORT NOVA_PORT PLACEMENT_PORT NEUTRON_PORT RABBIT_PORT RABBIT_EPMD_PORT "
         "RABBIT_DIST_PORT").split()
# Ports below the kernel's ephemeral range: a server binds its port minutes after it is chosen here, and in
# between an outgoing connection or another test server's bind(0) (the rest of the suite runs beside the bed)
# could take a port from that range -- once Swift's container server found its port taken and the bed came
# up without it.  Nothing the kernel hands out lands below the range.
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    low = 0
candidates = list(range(20000, low))
random.shuffle(candidates)
socks = []
for name in names:  # all held open together, so no two names get the same port
    while True:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", candidates.pop() if candidates else 0))
            break
        except OSError:  # in use: try another
            s.close()
    socks.append(s)
    print(f"export {name}={s.getsockname()[1]}")
PY
  mv "$OSBED/ports.sh.tmp" "$OSBED/ports.sh"
fi
. "$OSBED/ports.sh"
export KS_ADMIN_PASSWORD=admin-secret SERVICE_PASSWORD=service-secret
export KS_URL=http://127.0.0.1:$KS_PORT/v3
export KS_VENV=${KS_VENV:-$OSBED_CACHE/venv-keystone}
export OS_AUTH_URL=$KS_URL OS_USERNAME=admin OS_PASSWORD=$KS_ADMIN_PASSWORD OS_PROJECT_NAME=admin \
  OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3 OS_REGION_NAME=RegionOne

# ensure_venv VENV PIP_ARGS...: make VENV hold PIP_ARGS; one install at a time across every bed (flock).  The
# marker records the PIP_ARGS of the last complete install, so a changed list installs what is new.
ensure_venv() {
  local venv=$1; shift
  [ "$(cat "$venv/.osbed-ready" 2>/dev/null)" = "$*" ] && return 0
  (
    flock 9
    if [ "$(cat "$venv/.osbed-ready" 2>/dev/null)" != "$*" ]; then
      t=$(date +%s); [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
      "$venv/bin/pip" install -q "$@"
      echo "$(basename "$venv") installed in $(( $(date +%s)-t )) s"
      echo "$*" > "$venv/.osbed-ready"
    fi
  ) 9>"$OSBED_CACHE/install.lock"
}

# Schemas: a service's database schema is the same in every bed, and building it (db sync: hundreds of
# migrations) is most of a cold start.  So the first bed saves the empty, migrated schema in the cache and the
# next beds load it; what names this bed (endpoints, cell mappings, ports) is written afterwards, every time.
# cached_file KEY FILE: copy a cached SQLite file into place (0) or say it is not cached yet (1).
# save_file KEY FILE: cache it (atomically; the first bed to finish wins).
cached_file() { [ -f "$OSBED_CACHE/schema/$1" ] && cp "$OSBED_CACHE/schema/$1" "$2"; }
save_file() { mkdir -p "$OSBED_CACHE/schema"; cp "$2" "$OSBED_CACHE/schema/$1.$$" && mv "$OSBED_CACHE/schema/$1.$$" "$OSBED_CACHE/schema/$1"; }
# cached_sql KEY: load a cached dump into the bed's MariaDB (0) or say it is not cached yet (1).
# save_sql KEY DATABASE...: dump those databases (schema and the rows migrations seed) into the cache.
cached_sql() {
  [ -f "$OSBED_CACHE/schema/$1.sql" ] && mariadb --socket="$OSBED/mariadb/mysqld.sock" < "$OSBED_CACHE/schema/$1.sql"
}
save_sql() {
  local key=$1; shift; mkdir -p "$OSBED_CACHE/schema"
  mariadb-dump --socket="$OSBED/mariadb/mysqld.sock" --skip-dump-date --databases "$@" > "$OSBED_CACHE/schema/$key.sql.$$" &&
    mv "$OSBED_CACHE/schema/$key.sql.$$" "$OSBED_CACHE/schema/$key.sql"
}

# Configuration blocks every service of the bed writes the same way (each prints to stdout).
# ks_auth USER: keystoneauth options logging USER (password $SERVICE_PASSWORD) into the service project.
ks_auth() { cat <<CONF
auth_url = $KS_URL
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $SERVICE_PASSWORD
CONF
}
# authtoken_conf USER: the [keystone_authtoken] section of a service API whose Keystone user is USER.
authtoken_conf() {
  printf '[keystone_authtoken]\nwww_authenticate_uri = %s\nservice_token_roles_required = true\n' "$KS_URL"
  ks_auth "$1"
}
# database_conf USER DATABASE [SECTION]: a [database] section (or SECTION) reaching DATABASE of the bed's MariaDB
# as USER, by its socket (mariadb_start.sh makes both).
database_conf() {
  printf '[%s]\nconnection = mysql+pymysql://%s:%s@localhost/%s?unix_socket=%s\n' "${3:-database}" "$1" \
    "$SERVICE_PASSWORD" "$2" "$OSBED/mariadb/mysqld.sock"
}
