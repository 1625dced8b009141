"""Register Keystone unified limits (defaults for every project) of a service of the osbed Keystone.
usage: ks_limits.py SERVICE_TYPE RESOURCE=LIMIT...   (idempotent: an existing limit is set to LIMIT).
Needs keystoneauth1 only."""
import os
import sys

from keystoneauth1 import session
from keystoneauth1.identity import v3

stype, pairs = sys.argv[1], [a.split("=", 1) for a in sys.argv[2:]]
auth = v3.Password(auth_url=os.environ["OS_AUTH_URL"], username="admin", password=os.environ["OS_PASSWORD"],
                   project_name="admin", user_domain_id="default", project_domain_id="default")
s = session.Session(auth=auth)
ep = {"interface": "admin", "service_type": "identity"}
[svc] = s.get("/services", endpoint_filter=ep, params={"type": stype}).json()["services"]
have = {r["resource_name"]: r["id"] for r in s.get("/registered_limits", endpoint_filter=ep,
                                                   params={"service_id": svc["id"]}).json()["registered_limits"]}
new = []
for name, value in pairs:
    if name in have:
        s.patch(f"/registered_limits/{have[name]}", endpoint_filter=ep,
                json={"registered_limit": {"default_limit": int(value)}})
    else:
        new.append({"service_id": svc["id"], "region_id": "RegionOne", "resource_name": name,
                    "default_limit": int(value)})
if new:
    s.post("/registered_limits", endpoint_filter=ep, json={"registered_limits": new})
print(f"limits of {stype}: " + ", ".join(f"{n}={v}" for n, v in pairs))
