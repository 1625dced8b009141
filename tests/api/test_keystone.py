"""``auth_strategy = keystone`` against a real Keystone: tokens, revocation, project scoping and roles (§6).

Keystone's implied roles apply as in any cloud: an admin token also carries member and reader,
a member token also reader.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.server import ApiServer
from tests.services import Service
from tests.services.keystone import issue_token, revoke_token

BACKUP = {"backup_name": "b", "container": "c", "hostname": "h", "time_stamp": 1700000000}


@pytest.fixture(scope="module")
def tokens(keystone_server: Service) -> dict[str, tuple[str, dict[str, Any]]]:
    return {user: issue_token(keystone_server, user) for user in ("a-member", "a-reader", "b-member", "freezer",
                                                                  "admin")}


def test_valid_token_carries_project_user_and_roles(keystone_api: ApiServer, keystone_server: Service,
                                                    tokens: dict[str, tuple[str, dict[str, Any]]]) -> None:
    token, body = tokens["a-member"]
    project = keystone_server.env["KEYSTONE_PROJECT_A_ID"]
    assert body["project"]["id"] == project
    r = keystone_api.call("POST", f"/v2/{project}/backups", token, BACKUP)
    assert r.status_code == 201, r.text
    doc = keystone_api.call("GET", f"/v2/{project}/backups/{r.json()['backup_id']}", token).json()
    assert (doc["project_id"], doc["user_id"]) == (project, body["user"]["id"])
    reader, _ = tokens["a-reader"]
    assert keystone_api.call("GET", f"/v2/{project}/backups", reader).status_code == 200
    assert keystone_api.call("POST", f"/v2/{project}/backups", reader, BACKUP).status_code == 403


def test_missing_invalid_and_revoked_tokens_get_401(keystone_api: ApiServer, keystone_server: Service) -> None:
    project = keystone_server.env["KEYSTONE_PROJECT_A_ID"]
    for token in (None, "gAAAAAB-not-a-real-token"):
        r = keystone_api.call("GET", f"/v2/{project}/jobs", token)
        assert r.status_code == 401, r.text
        assert r.headers["WWW-Authenticate"].startswith("Keystone uri=")
        assert r.json()["error"]["code"] == 401
    # A revoked token is refused.  (One the middleware has already validated stays in its cache for
    # token_cache_time, as in any cloud, so this token is revoked before its first use.)
    token, _ = issue_token(keystone_server, "a-member")
    revoke_token(keystone_server, token)
    assert keystone_api.call("GET", f"/v2/{project}/jobs", token).status_code == 401
    assert keystone_api.call("GET", "/v2", token).status_code == 200  # public documents need no token


def test_project_scoping_and_roles(keystone_api: ApiServer, keystone_server: Service,
                                   tokens: dict[str, tuple[str, dict[str, Any]]]) -> None:
    a, b = keystone_server.env["KEYSTONE_PROJECT_A_ID"], keystone_server.env["KEYSTONE_PROJECT_B_ID"]
    member_a, member_b = tokens["a-member"][0], tokens["b-member"][0]
    client = {"client_id": "scoping_node.example.org", "hostname": "node"}
    assert keystone_api.call("POST", f"/v2/{b}/clients", member_b, client).status_code == 201
    job = {"client_id": client["client_id"], "job_schedule": {},
           "job_actions": [{"freezer_action": {"action": "backup", "mode": "fs", "backup_name": "x"}}]}
    job_id = keystone_api.call("POST", f"/v2/{b}/jobs", member_b, job).json()["job_id"]
    # a member of A can neither read nor write B
    for method, path, body in (("GET", f"/v2/{b}/jobs", None), ("GET", f"/v2/{b}/jobs/{job_id}", None),
                               ("POST", f"/v2/{b}/clients", client), ("POST", f"/v2/{b}/backups", BACKUP),
                               ("DELETE", f"/v2/{b}/jobs/{job_id}", None)):
        r = keystone_api.call(method, path, member_a, body)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json() == {"title": "Access Forbidden", "description": "You are not allowed to access this resource"}
    # a reader reads its project and writes nothing
    reader = tokens["a-reader"][0]
    assert keystone_api.call("GET", f"/v2/{a}/jobs", reader).status_code == 200
    assert keystone_api.call("POST", f"/v2/{a}/sessions", reader, {"description": "s"}).status_code == 403
    # admin reads and writes every project; its job list spans projects
    admin = tokens["admin"][0]
    listed = keystone_api.call("GET", f"/v2/{a}/jobs", admin).json()["jobs"]
    assert job_id in [j["job_id"] for j in listed]
    assert keystone_api.call("POST", f"/v2/{b}/backups", admin, BACKUP).status_code == 201
    # service reads every project, writes backups only
    service = tokens["freezer"][0]
    assert keystone_api.call("GET", f"/v2/{b}/jobs/{job_id}", service).status_code == 200
    assert keystone_api.call("POST", f"/v2/{b}/backups", service, BACKUP).status_code == 201
    assert keystone_api.call("POST", f"/v2/{b}/jobs", service, job).status_code == 403
