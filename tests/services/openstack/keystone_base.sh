#!/usr/bin/env bash
# Real OpenStack Keystone (PyPI "keystone"), SQLite + fernet tokens, served by gunicorn on 127.0.0.1.
# Usage: keystone_start.sh [BASE_DIR]  -> http://127.0.0.1:$KS_PORT/v3, admin/$KS_ADMIN_PASSWORD, project admin
set -euo pipefail
BASE=${1:-${TMPDIR:-/tmp}/freezer-services/keystone}
VENV=${VENV:-${TMPDIR:-/tmp}/freezer-services/venv-keystone}
KS_PORT=${KS_PORT:-25357}
KS_ADMIN_PASSWORD=${KS_ADMIN_PASSWORD:-admin-secret}
export PIP_CACHE_DIR=${PIP_CACHE_DIR:-${TMPDIR:-/tmp}/freezer-services/pipcache}
if [ ! -x "$VENV/bin/keystone-manage" ] || [ ! -x "$VENV/bin/gunicorn" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "keystone==${KEYSTONE_VERSION:-30.0.0}" gunicorn
fi
mkdir -p "$BASE/fernet-keys" "$BASE/credential-keys" "$BASE/log"
cat > "$BASE/keystone.conf" <<CONF
[DEFAULT]
log_file = $BASE/log/keystone.log
[database]
connection = sqlite:///$BASE/keystone.db
[token]
provider = fernet
expiration = 3600
[fernet_tokens]
key_repository = $BASE/fernet-keys
[fernet_receipts]
key_repository = $BASE/fernet-keys
[credential]
key_repository = $BASE/credential-keys
[identity]
# test users only: the cheapest bcrypt (every password login otherwise costs ~0.25 CPU-s)
password_hash_rounds = 4
[cache]
enabled = true
backend = dogpile.cache.memory
CONF
KM="$VENV/bin/keystone-manage --config-file $BASE/keystone.conf"
t0=$(date +%s.%N)
if [ ! -f "$BASE/keystone.db" ]; then
  # KS_SCHEMA_LOAD / KS_SCHEMA_SAVE: commands that copy a migrated, empty keystone.db in / out of a cache
  if ! { [ -n "${KS_SCHEMA_LOAD:-}" ] && $KS_SCHEMA_LOAD "$BASE/keystone.db"; }; then
    $KM db_sync
    [ -z "${KS_SCHEMA_SAVE:-}" ] || $KS_SCHEMA_SAVE "$BASE/keystone.db"
  fi
  $KM fernet_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
  $KM credential_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
  $KM bootstrap --bootstrap-password "$KS_ADMIN_PASSWORD" \
    --bootstrap-admin-url "http://127.0.0.1:$KS_PORT/v3/" \
    --bootstrap-internal-url "http://127.0.0.1:$KS_PORT/v3/" \
    --bootstrap-public-url "http://127.0.0.1:$KS_PORT/v3/" \
    --bootstrap-region-id RegionOne
fi
t1=$(date +%s.%N)
echo "db_sync+fernet+bootstrap: $(echo "$t1 - $t0" | bc) s"
export OS_KEYSTONE_CONFIG_DIR="$BASE" OS_KEYSTONE_CONFIG_FILES=keystone.conf
# Pitfall: keystone's oslo.config parses sys.argv when the app is built; under gunicorn that is
# gunicorn's own command line -> "unrecognized arguments" -> worker exits 2, respawn loop forever.
# So wrap the app and blank sys.argv first.
cat > "$BASE/ks_wsgi.py" <<PY
import sys
sys.argv = sys.argv[:1]
from keystone.wsgi.api import application  # noqa: E402,F401
PY
# --no-control-socket: gunicorn >= 24 otherwise creates ~/.gunicorn/gunicorn.ctl
# --keep-alive 75: the 2 s default races openstacksdk's 2 s polling (random RemoteDisconnected)
nohup "$VENV/bin/gunicorn" --bind "127.0.0.1:$KS_PORT" --workers 1 --threads 4 --keep-alive 75 \
  --no-control-socket --pythonpath "$BASE" --access-logfile "$BASE/log/access.log" \
  ks_wsgi:application >"$BASE/log/gunicorn.log" 2>&1 &
echo $! > "$BASE/keystone.pid"
ok=0
for i in $(seq 1 120); do
  curl -sf --max-time 2 -o /dev/null "http://127.0.0.1:$KS_PORT/v3" && { ok=1; break; }
  kill -0 "$(cat "$BASE/keystone.pid")" 2>/dev/null || break
  sleep 0.5
done
[ "$ok" = 1 ] || { echo "keystone failed to start, see $BASE/log"; tail -20 "$BASE/log/gunicorn.log"; exit 1; }
echo "keystone http://127.0.0.1:$KS_PORT/v3 pid $(cat "$BASE/keystone.pid") up after $(echo "$(date +%s.%N) - $t1" | bc) s"
