#!/usr/bin/env bash
# Swift for the OpenStack bed: ../swift_start.sh with SWIFT_AUTH=keystone (authtoken + keystoneauth against
# the bed's Keystone) from a cached venv, registered in the catalog as object-store, then checked end to end.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/env.sh"
VENV=${SWIFT_VENV:-$OSBED_CACHE/venv-swift}
# python-memcached: authtoken with memcached_servers imports "memcache", else every request answers 500
ensure_venv "$VENV" swift keystonemiddleware python-memcached
SWIFT_DIR=$OSBED/swift SWIFT_BIN_DIR=$VENV/bin SWIFT_AUTH=keystone SWIFT_KS_URL=$KS_URL \
  SWIFT_KS_PASSWORD=$SERVICE_PASSWORD SWIFT_WORKERS=0 bash "$OSBED_HOME/../swift_start.sh"
"$KS_VENV/bin/python" "$OSBED_HOME/ks_register.py" swift object-store "http://127.0.0.1:$SWIFT_PROXY_PORT/v1/AUTH_%(project_id)s"
# end-to-end readiness: a Keystone token for admin, then a HEAD of AUTH_<project> (autocreated) must answer 2xx
"$KS_VENV/bin/python" - <<'PY'
import os, sys, time
from keystoneauth1 import session
from keystoneauth1.identity import v3
s = session.Session(auth=v3.Password(auth_url=os.environ["OS_AUTH_URL"], username="admin",
    password=os.environ["OS_PASSWORD"], project_name="admin", user_domain_id="default", project_domain_id="default"))
where = {"service_type": "object-store", "interface": "public"}
for i in range(100):
    try:
        r = s.head("", endpoint_filter=where, raise_exc=True)
        break
    except Exception as e:
        err = e; time.sleep(0.2)
else:
    sys.exit(f"swift not ready: {err}")
# The account answering is not enough: a container or object server that never bound its port leaves the
# proxy answering 400/503 to every listing.  Write, list, read and remove one object through all three.
try:
    s.put("/freezer-bed-check", endpoint_filter=where, raise_exc=True)
    s.put("/freezer-bed-check/probe", data=b"probe", endpoint_filter=where, raise_exc=True)
    listed = s.get("/freezer-bed-check", endpoint_filter=where, raise_exc=True).text.split()
    body = s.get("/freezer-bed-check/probe", endpoint_filter=where, raise_exc=True).content
    s.delete("/freezer-bed-check/probe", endpoint_filter=where, raise_exc=True)
    s.delete("/freezer-bed-check", endpoint_filter=where, raise_exc=True)
except Exception as e:
    sys.exit(f"swift is up but cannot store an object: {e} (see {os.environ.get('OSBED', '')}/swift/log/*.log)")
if listed != ["probe"] or body != b"probe":
    sys.exit(f"swift is up but lists {listed} and reads {body!r} for the one object written")
print("swift ready (keystone auth):", r.url, r.status_code)
PY
