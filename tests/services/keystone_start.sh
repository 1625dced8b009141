#!/usr/bin/env bash
# Start a real OpenStack Keystone for the tests: PyPI "keystone" in a venv of its own, SQLite, fernet
# tokens, gunicorn on 127.0.0.1; then the identities the Freezer API tests use.
#
# Environment (set by tests/services/keystone.py):
#   KEYSTONE_DIR    directory for the database, keys, logs, pid file and env.sh (required)
#   KEYSTONE_PORT   TCP port (default 25357)
#   KEYSTONE_VENV   the venv holding keystone and gunicorn (required), built by keystone.py from the
#                   pins of keystone-constraints.txt, in $FREEZER_SERVICES_CACHE/keystone-venv
#   FREEZER_SERVICES_CACHE  where the bootstrapped template is kept (default ~/.cache/freezer-services)
# Identities (all in domain "default"; random passwords, made with the cached template):
#   admin (bootstrap; admin of project "admin"); projects backup-a and backup-b; users a-member, a-reader
#   (member/reader of backup-a), b-member (member of backup-b), freezer (service role in project "service":
#   the API's own user, which validates tokens).
# Writes $KEYSTONE_DIR/env.sh: OS_AUTH_URL, KEYSTONE_ADMIN_PASSWORD, KEYSTONE_PROJECT_{A,B}_ID,
# KEYSTONE_SERVICE_PROJECT_ID, KEYSTONE_PASSWORD (shared by the test users). PID: $KEYSTONE_DIR/keystone.pid.
set -euo pipefail
DIR=${KEYSTONE_DIR:?KEYSTONE_DIR must name the server directory}
PORT=${KEYSTONE_PORT:-25357}
CACHE=${FREEZER_SERVICES_CACHE:-$HOME/.cache/freezer-services}
VENV=${KEYSTONE_VENV:?KEYSTONE_VENV must name the keystone venv}

if [ -f "$DIR/keystone.pid" ] && kill -0 "$(cat "$DIR/keystone.pid")" 2>/dev/null; then
  echo "keystone already running from $DIR (pid $(cat "$DIR/keystone.pid"))" >&2; exit 1
fi

mkdir -p "$CACHE"
[ -x "$VENV/bin/gunicorn" ] || { echo "$VENV has no gunicorn: build it with tests/services/keystone.py" >&2; exit 1; }

# Bootstrapping (db_sync, keys, bootstrap, identities) takes minutes on a loaded machine, so it is done
# once per venv and script version into a template under $CACHE; each start copies it and points the
# catalog at its own port.
key=$(cat "$VENV/.freezer-stamp" "$0" | sha256sum | cut -c1-16)
TEMPLATE="$CACHE/keystone-template-$key"

write_conf() {  # write_conf DIR
  cat > "$1/keystone.conf" <<CONF
[DEFAULT]
log_file = $1/log/keystone.log
[database]
connection = sqlite:///$1/keystone.db
[token]
provider = fernet
expiration = 3600
[fernet_tokens]
key_repository = $1/fernet-keys
[fernet_receipts]
key_repository = $1/fernet-keys
[credential]
key_repository = $1/credential-keys
[identity]
# test users only: the cheapest bcrypt (every password login otherwise costs ~0.25 CPU-s)
password_hash_rounds = 4
[cache]
enabled = true
backend = dogpile.cache.memory
CONF
  # keystone's oslo.config parses sys.argv when the app is built; under gunicorn that is gunicorn's own
  # command line, so the app is wrapped and sys.argv blanked first.
  printf 'import sys\nsys.argv = sys.argv[:1]\nfrom keystone.wsgi.api import application  # noqa: E402,F401\n' \
    > "$1/ks_wsgi.py"
}

serve() {  # serve DIR PORT: gunicorn in the background, pid in DIR/keystone.pid, wait until it answers
  # --no-control-socket: no ~/.gunicorn/gunicorn.ctl; --keep-alive 75: the 2 s default races clients' polling.
  OS_KEYSTONE_CONFIG_DIR="$1" OS_KEYSTONE_CONFIG_FILES=keystone.conf nohup "$VENV/bin/gunicorn" \
    --bind "127.0.0.1:$2" --workers 1 --threads 4 --keep-alive 75 --no-control-socket \
    --pythonpath "$1" --access-logfile "$1/log/access.log" ks_wsgi:application \
    >"$1/log/gunicorn.log" 2>&1 &
  echo $! > "$1/keystone.pid"
  for _ in $(seq 1 480); do
    curl -sf --max-time 2 -o /dev/null "http://127.0.0.1:$2/v3" && return 0
    kill -0 "$(cat "$1/keystone.pid")" 2>/dev/null || break
    sleep 0.25
  done
  echo "keystone did not start, see $1/log" >&2; tail -20 "$1/log/gunicorn.log" >&2
  return 1
}

halt() {  # halt DIR: stop the recorded gunicorn
  local pid; pid=$(cat "$1/keystone.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1/keystone.pid"
}

build_template() {
  local T="$TEMPLATE.build" port
  rm -rf "$T"; mkdir -p "$T/fernet-keys" "$T/credential-keys" "$T/log"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  write_conf "$T"
  local KM=("$VENV/bin/keystone-manage" --config-file "$T/keystone.conf")
  local url="http://127.0.0.1:$port/v3"
  local admin_pw user_pw
  admin_pw=$(python3 -c 'import secrets; print(secrets.token_urlsafe(16))')
  user_pw=$(python3 -c 'import secrets; print(secrets.token_urlsafe(16))')
  "${KM[@]}" db_sync || return 1
  "${KM[@]}" fernet_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" || return 1
  "${KM[@]}" credential_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)" || return 1
  "${KM[@]}" bootstrap --bootstrap-password "$admin_pw" --bootstrap-admin-url "$url/" \
    --bootstrap-internal-url "$url/" --bootstrap-public-url "$url/" --bootstrap-region-id RegionOne || return 1
  serve "$T" "$port" || return 1
  # Projects, users and role assignments, through Keystone's own API.
  if ! KS_URL="$url" KS_ADMIN_PASSWORD="$admin_pw" KS_USER_PASSWORD="$user_pw" "$VENV/bin/python" - \
      > "$T/ids.env" <<'PY'
import os

from keystoneauth1 import session
from keystoneauth1.identity import v3

url = os.environ["KS_URL"]
auth = v3.Password(auth_url=url, username="admin", password=os.environ["KS_ADMIN_PASSWORD"], project_name="admin",
                   user_domain_id="default", project_domain_id="default")
ks = session.Session(auth=auth)
ident = {"service_type": "identity"}


def create(kind: str, body: dict) -> dict:
    return ks.post(f"/{kind}s", endpoint_filter=ident, json={kind: body}).json()[kind]


roles = {r["name"]: r["id"] for r in ks.get("/roles", endpoint_filter=ident).json()["roles"]}
for name in ("member", "reader", "service"):
    if name not in roles:
        roles[name] = create("role", {"name": name})["id"]
projects = {name: create("project", {"name": name, "domain_id": "default"})["id"]
            for name in ("backup-a", "backup-b", "service")}
for user, project, role in (("a-member", "backup-a", "member"), ("a-reader", "backup-a", "reader"),
                            ("b-member", "backup-b", "member"), ("freezer", "service", "service")):
    uid = create("user", {"name": user, "password": os.environ["KS_USER_PASSWORD"], "domain_id": "default"})["id"]
    ks.put(f"/projects/{projects[project]}/users/{uid}/roles/{roles[role]}", endpoint_filter=ident)
print(f"export KEYSTONE_PROJECT_A_ID={projects['backup-a']}")
print(f"export KEYSTONE_PROJECT_B_ID={projects['backup-b']}")
print(f"export KEYSTONE_SERVICE_PROJECT_ID={projects['service']}")
print(f"export KEYSTONE_ADMIN_PROJECT_ID={ks.get_project_id()}")
PY
  then halt "$T"; return 1; fi
  halt "$T"
  printf 'export KEYSTONE_ADMIN_PASSWORD=%s\nexport KEYSTONE_PASSWORD=%s\n' "$admin_pw" "$user_pw" >> "$T/ids.env"
  echo "$url" > "$T/url"
  rm -rf "$T/log"/* && chmod -R go-rwx "$T" && mv "$T" "$TEMPLATE"
}

# (errexit does not apply inside a function called from a condition: build_template returns its failures)
(
  flock 9
  if [ ! -f "$TEMPLATE/url" ]; then build_template || { echo "keystone bootstrap failed" >&2; exit 1; }; fi
) 9>"$CACHE/keystone-template.lock"

# This server: the template's database and keys, its own configuration, the catalog on its own port.
URL="http://127.0.0.1:$PORT/v3"
mkdir -p "$DIR/log"
cp -r "$TEMPLATE/keystone.db" "$TEMPLATE/fernet-keys" "$TEMPLATE/credential-keys" "$DIR/"
write_conf "$DIR"
python3 - "$DIR/keystone.db" "$(cat "$TEMPLATE/url")" "$URL" <<'PY'
import sqlite3
import sys

with sqlite3.connect(sys.argv[1]) as db:
    db.execute("UPDATE endpoint SET url = replace(url, ?, ?)", (sys.argv[2], sys.argv[3]))
PY
serve "$DIR" "$PORT"

umask 077
{ echo "export OS_AUTH_URL=$URL"; echo "export KEYSTONE_VENV=$VENV"; cat "$TEMPLATE/ids.env"; } > "$DIR/env.sh"
