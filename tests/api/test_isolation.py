"""Isolation: every endpoint tried by a member of another project, a reader, and the service role.

A member of project A can neither read nor change anything of project B;
readers cannot write; the service role reads everything and writes backups only.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.server import SERVICE, ApiServer, member_token, reader_token

READS = ["GET {p}/backups", "GET {p}/backups/{backup}", "GET {p}/clients", "GET {p}/clients/{client}",
         "GET {p}/actions", "GET {p}/actions/{action}", "GET {p}/jobs", "GET {p}/jobs/{job}",
         "GET {p}/sessions", "GET {p}/sessions/{session}"]
WRITES = ["POST {p}/backups", "PATCH {p}/backups/{backup}", "DELETE {p}/backups/{backup}",
          "POST {p}/clients", "DELETE {p}/clients/{client}",
          "POST {p}/actions", "PATCH {p}/actions/{action}", "POST {p}/actions/{action}",
          "DELETE {p}/actions/{action}",
          "POST {p}/jobs", "PATCH {p}/jobs/{job}", "POST {p}/jobs/{job}", "DELETE {p}/jobs/{job}",
          "POST {p}/jobs/{job}/event",
          "POST {p}/sessions", "PATCH {p}/sessions/{session}", "POST {p}/sessions/{session}",
          "DELETE {p}/sessions/{session}", "POST {p}/sessions/{session}/action",
          "PUT {p}/sessions/{session}/jobs/{job}", "DELETE {p}/sessions/{session}/jobs/{job}"]


@pytest.fixture(scope="module")
def world(api: ApiServer) -> dict[str, Any]:
    """One project populated with a document of every kind."""
    p = api.new_project()
    tok = member_token(p)
    client = f"{p}_host"
    api.call("POST", f"/v2/{p}/clients", tok, {"client_id": client})
    ids = {"p": f"/v2/{p}", "client": client,
           "backup": api.call("POST", f"/v2/{p}/backups", tok, {"backup_name": "b", "container": "c",
                                                                 "hostname": "h"}).json()["backup_id"],
           "action": api.call("POST", f"/v2/{p}/actions", tok,
                              {"freezer_action": {"action": "info"}}).json()["action_id"],
           "job": api.call("POST", f"/v2/{p}/jobs", tok, {"client_id": client, "job_schedule": {},
                                                          "job_actions": [{"freezer_action": {"action": "info"}}]}
                           ).json()["job_id"],
           "session": api.call("POST", f"/v2/{p}/sessions", tok, {"description": "s"}).json()["session_id"]}
    return {"project": p, "ids": ids, "stranger": api.new_project()}


def _send(api: ApiServer, spec: str, ids: dict[str, str], token: str) -> int:
    method, template = spec.split(" ", 1)
    body = {"backup_name": "x", "container": "c", "hostname": "h", "freezer_action": {"action": "info"},
            "client_id": ids["client"], "job_actions": [], "job_schedule": {}, "description": "x"}
    if template.endswith("/event"):
        body = {"stop": None}
    elif template.endswith("/action"):
        body = {"start": {"job_id": ids["job"], "current_tag": 0}}
    return api.call(method, template.format(**ids), token, body if method in ("POST", "PATCH") else None
                    ).status_code


@pytest.mark.parametrize("spec", READS + WRITES)
def test_other_project_member_is_refused(api: ApiServer, world: dict[str, Any], spec: str) -> None:
    assert _send(api, spec, world["ids"], member_token(world["stranger"])) == 403


@pytest.mark.parametrize("spec", WRITES)
def test_reader_cannot_write(api: ApiServer, world: dict[str, Any], spec: str) -> None:
    assert _send(api, spec, world["ids"], reader_token(world["project"])) == 403


@pytest.mark.parametrize("spec", READS)
def test_reader_and_service_can_read(api: ApiServer, world: dict[str, Any], spec: str) -> None:
    assert _send(api, spec, world["ids"], reader_token(world["project"])) == 200
    assert _send(api, spec, world["ids"], SERVICE) == 200


@pytest.mark.parametrize("spec", [w for w in WRITES if "/backups" not in w])
def test_service_writes_backups_only(api: ApiServer, world: dict[str, Any], spec: str) -> None:
    assert _send(api, spec, world["ids"], SERVICE) == 403


def test_stranger_sees_nothing_in_own_project(api: ApiServer, world: dict[str, Any]) -> None:
    stranger = world["stranger"]
    for kind in ("backups", "clients", "actions", "jobs", "sessions"):
        r = api.call("GET", f"/v2/{stranger}/{kind}", member_token(stranger), limit=1000)
        assert r.json() == {kind: []}
    assert api.call("GET", f"/v2/{stranger}/jobs/{world['ids']['job']}", member_token(stranger)).status_code == 404
