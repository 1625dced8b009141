"""Register a service in the osbed Keystone: service project/user (admin role), service + 3 endpoints.
usage: ks_register.py NAME TYPE URL [USER]   (idempotent). Needs keystoneauth1 only."""
import os
import sys

from keystoneauth1 import session
from keystoneauth1.identity import v3

name, stype, url = sys.argv[1:4]
user = sys.argv[4] if len(sys.argv) > 4 else name
auth = v3.Password(auth_url=os.environ["OS_AUTH_URL"], username="admin", password=os.environ["OS_PASSWORD"],
                   project_name="admin", user_domain_id="default", project_domain_id="default")
s = session.Session(auth=auth)
ep = {"interface": "admin", "service_type": "identity"}
def get(path, key, **q):
    return s.get(path, endpoint_filter=ep, params=q).json()[key]
def ensure(path, key, body, **q):
    found = get(path, key, **q)
    if found:
        return found[0]
    return s.post(path, endpoint_filter=ep, json={key[:-1]: body}).json()[key[:-1]]
proj = ensure("/projects", "projects", {"name": "service", "domain_id": "default"}, name="service")
u = ensure("/users", "users", {"name": user, "domain_id": "default", "password": os.environ["SERVICE_PASSWORD"]},
           name=user)
role = get("/roles", "roles", name="admin")[0]
s.put(f"/projects/{proj['id']}/users/{u['id']}/roles/{role['id']}", endpoint_filter=ep)
for r in ("service", "reader", "member"):
    rr = get("/roles", "roles", name=r)
    rr = rr[0] if rr else s.post("/roles", endpoint_filter=ep, json={"role": {"name": r}}).json()["role"]
    if r == "service":
        s.put(f"/projects/{proj['id']}/users/{u['id']}/roles/{rr['id']}", endpoint_filter=ep)
svc = ensure("/services", "services", {"name": name, "type": stype}, type=stype)
have = {e["interface"] for e in get("/endpoints", "endpoints", service_id=svc["id"])}
for iface in ("public", "internal", "admin"):
    if iface not in have:
        s.post("/endpoints", endpoint_filter=ep, json={"endpoint": {"service_id": svc["id"], "interface": iface,
               "url": url, "region_id": "RegionOne"}})
print(f"registered {name} ({stype}) -> {url}; user {user}/service")
