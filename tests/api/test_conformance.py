"""The conformance checks of the wire reference (§13), over HTTP against a running server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.server import ADMIN, ApiServer, member_token, reader_token

JOB_ACTION = {"freezer_action": {"action": "backup", "mode": "fs", "path_to_backup": "/etc", "backup_name": "etc",
                                 "container": "c", "storage": "swift"}, "max_retries": 3}


def job_body(client: str, **extra: Any) -> dict[str, Any]:
    return {"client_id": client, "description": "d", "job_schedule": {"schedule_interval": "1 days"},
            "job_actions": [JOB_ACTION], **extra}


@pytest.fixture
def project(api: ApiServer) -> str:
    return api.new_project()


@pytest.fixture
def tok(project: str) -> str:
    return member_token(project)


@pytest.fixture
def client(api: ApiServer, project: str, tok: str) -> str:
    client_id = f"{project}_node1"
    assert api.call("POST", f"/v2/{project}/clients", tok, {"client_id": client_id, "hostname": "node1"}
                    ).status_code == 201
    return client_id


@pytest.fixture
def job(api: ApiServer, project: str, tok: str, client: str) -> str:
    r = api.call("POST", f"/v2/{project}/jobs", tok, job_body(client))
    assert r.status_code == 201, r.text
    return str(r.json()["job_id"])


def test_discovery(api: ApiServer, project: str, tok: str) -> None:
    r = api.call("GET", "/")
    assert r.status_code == 300
    assert r.json()["versions"][0]["id"] == "v2"
    assert r.json()["versions"][0]["links"][0]["href"].endswith("/v2/")
    assert api.call("GET", "/", headers={"Accept": "text/html"}).status_code == 406
    r = api.call("GET", "/v2", tok)
    assert r.status_code == 200 and "rel/backups" in r.json()["resources"]
    assert r.json()["resources"]["rel/backups"]["hints"]["allow"][0] == "GET"
    assert api.call("GET", "/healthcheck", headers={"Accept": "text/plain"}).text == "OK"
    assert api.call("HEAD", "/healthcheck").status_code == 204
    assert api.call("GET", f"/v2/{project}/jobs").status_code == 401
    for path in (f"/v2/{project}/jobs", f"/v2/{project}/jobs/"):
        r = api.call("GET", path, tok)
        assert (r.status_code, r.json()) == (200, {"jobs": []})
    assert r.headers["x-openstack-request-id"].startswith("req-")
    assert api.call("GET", "/openapi.json").json()["openapi"].startswith("3.")


def test_clients(api: ApiServer, project: str, tok: str) -> None:
    body = {"client_id": f"{project}_node1", "hostname": "node1"}
    for _ in range(2):
        r = api.call("POST", f"/v2/{project}/clients", tok, body)
        assert (r.status_code, r.json()) == (201, {"client_id": f"{project}_node1"})
    assert api.call("POST", f"/v2/{project}/clients", tok, {"hostname": "x"}).status_code == 400
    listed = api.call("GET", f"/v2/{project}/clients", tok).json()["clients"]
    assert [c["client"]["client_id"] for c in listed] == [f"{project}_node1"]
    shown = api.call("GET", f"/v2/{project}/clients/{project}_node1", tok).json()
    assert shown["client"]["hostname"] == "node1" and "fs" in shown["client"]["supported_modes"]
    assert api.call("POST", f"/v2/{project}/clients", tok, {**body, "is_central": True}).status_code == 403
    assert api.call("DELETE", f"/v2/{project}/clients/{project}_node1", tok).status_code == 204
    assert api.call("GET", f"/v2/{project}/clients/{project}_node1", tok).status_code == 404


def test_job_create(api: ApiServer, project: str, tok: str, job: str, client: str) -> None:
    doc = api.call("GET", f"/v2/{project}/jobs/{job}", tok).json()
    assert isinstance(doc["job_schedule"]["time_created"], int)
    assert doc["job_schedule"]["time_started"] == -1 and doc["session_id"] == ""
    assert doc["job_actions"][0]["action_id"]
    assert doc["job_actions"][0]["freezer_action"]["backup_name"] == "etc"
    assert doc["client_id"] == client and doc["project_id"] == project
    actions = api.call("GET", f"/v2/{project}/actions", tok).json()["actions"]
    assert [a["action_id"] for a in actions] == [doc["job_actions"][0]["action_id"]]


@pytest.mark.parametrize("interval", ["1 day", "1 days", "2 hours", "1 week", "30 seconds", "continuous"])
def test_job_interval_singular_and_plural(api: ApiServer, project: str, tok: str, client: str, interval: str) -> None:
    """Upstream's schema rejects "1 day"; the scheduler understands both, so the API accepts both."""
    body = job_body(client) | {"job_schedule": {"schedule_interval": interval}}
    r = api.call("POST", f"/v2/{project}/jobs", tok, body)
    assert r.status_code == 201, r.text
    doc = api.call("GET", f"/v2/{project}/jobs/{r.json()['job_id']}", tok).json()
    assert doc["job_schedule"]["schedule_interval"] == interval


@pytest.mark.parametrize(("change", "status", "text"), [
    ({"foo": 1}, 400, "Additional properties are not allowed ('foo' was unexpected)"),
    ({"job_schedule": {"schedule_interval": "weekly"}}, 400, ""),
    ({"client_id": "nope"}, 422, "Client not found with ID nope"),
    ({"client_id": "bad%x$y_h.d"}, 400, ""),
    ({"job_actions": [{"action_id": "nope"}]}, 422, ""),
])
def test_job_create_errors(api: ApiServer, project: str, tok: str, client: str, change: dict[str, Any],
                           status: int, text: str) -> None:
    r = api.call("POST", f"/v2/{project}/jobs", tok, job_body(client) | change)
    assert r.status_code == status, r.text
    assert text in r.json()["description"]
    assert api.call("GET", f"/v2/{project}/actions", tok).json()["actions"] == []


def test_job_capabilities(api: ApiServer, project: str, tok: str) -> None:
    api.call("POST", f"/v2/{project}/clients", tok, {"client_id": f"{project}_fs", "supported_modes": ["fs"]})
    body = job_body(f"{project}_fs")
    body["job_actions"] = [{"freezer_action": {**JOB_ACTION["freezer_action"], "mode": "mysql"}}]
    r = api.call("POST", f"/v2/{project}/jobs", tok, body)
    assert r.status_code == 422 and "does not support mode: mysql" in r.json()["description"]


def test_job_events_and_patch(api: ApiServer, project: str, tok: str, job: str, client: str) -> None:
    path = f"/v2/{project}/jobs/{job}"
    r = api.call("POST", path + "/event", tok, {"start": None})
    assert (r.status_code, r.json()) == (202, {"result": "success"})
    assert api.call("POST", path + "/event", tok, {"start": None}).json() == {"result": "start already requested"}
    schedule = api.call("GET", path, tok).json()["job_schedule"]
    assert schedule["event"] == "start" and schedule["status"] == ""
    assert api.call("POST", path + "/event", tok, {"bogus": None}).status_code == 400
    assert api.call("POST", path + "/event", tok, {}).status_code == 400
    assert api.call("POST", f"/v2/{project}/jobs/nope/event", tok, {"stop": None}).status_code == 404
    r = api.call("PATCH", path, tok, {"job_schedule": {"status": "scheduled"}})
    assert r.status_code == 200 and r.json()["job_id"] == job and isinstance(r.json()["version"], int)
    assert api.call("GET", path, tok).json()["job_schedule"] == {"status": "scheduled"}
    r = api.call("POST", f"/v2/{project}/jobs/myjob", tok, job_body(client))
    assert r.status_code == 201 and r.json()["job_id"] == "myjob"
    assert api.call("GET", f"/v2/{project}/jobs/myjob", tok).json()["job_id"] == "myjob"
    assert api.call("DELETE", f"/v2/{project}/jobs/myjob", tok).status_code == 204
    assert api.call("DELETE", f"/v2/{project}/jobs/myjob", tok).status_code == 404


def test_actions(api: ApiServer, project: str, tok: str) -> None:
    r = api.call("POST", f"/v2/{project}/actions", tok, {"freezer_action": {"action": "backup", "backup_name": "b"}})
    assert r.status_code == 201
    path = f"/v2/{project}/actions/{r.json()['action_id']}"
    doc = api.call("GET", path, tok).json()
    assert (doc["max_retries"], doc["max_retries_interval"]) == (5, 6)
    r = api.call("PATCH", path, tok, {"freezer_action": {"action": "backup", "backup_name": "b2"}})
    assert r.status_code == 200
    doc = api.call("GET", path, tok).json()
    assert doc["freezer_action"]["backup_name"] == "b2" and doc["max_retries"] == 5
    r = api.call("POST", f"/v2/{project}/actions/a1", tok, {"freezer_action": {"action": "info"}})
    assert r.status_code == 201 and r.json()["action_id"] == "a1"
    assert api.call("PATCH", f"/v2/{project}/actions/none", tok, {"mandatory": True}).status_code == 404


def test_backups(api: ApiServer, project: str, tok: str) -> None:
    base = f"/v2/{project}/backups"
    meta = {"backup_name": "b", "container": "c", "hostname": "h", "time_stamp": 1700000000}
    r = api.call("POST", base, tok, meta)
    assert r.status_code == 201
    path = f"{base}/{r.json()['backup_id']}"
    doc = api.call("GET", path, tok).json()
    assert doc["status"] == "available" and doc["backup_metadata"] == meta and doc["project_id"] == project
    assert api.call("POST", base, tok, {"backup_name": "b"}).status_code == 400
    assert api.call("POST", base, tok, {"backup_name": "b", "status": "creating"}).status_code == 201
    r = api.call("PATCH", path, tok, {"status": "error", "backup_metadata": {"n": 1}})
    assert r.status_code == 200 and r.json()["backup_metadata"] == meta | {"n": 1} and r.json()["status"] == "error"
    assert api.call("PATCH", path, tok, {"status": "bogus"}).status_code == 400
    assert api.call("PATCH", f"{base}/nope", tok, {"status": "error"}).status_code == 404
    assert api.call("POST", base, tok, raw=b'{"backup_name":"x","container":"c","hostname":"h"}',
                    headers={"Content-Type": ""}).status_code == 201
    assert api.call("DELETE", path, tok).status_code == 204
    assert api.call("DELETE", path, tok).status_code == 404


def test_paging(api: ApiServer, project: str, tok: str) -> None:
    base = f"/v2/{project}/backups"
    for i in range(8):
        api.call("POST", base, tok, {"backup_name": f"b{i}", "container": "c", "hostname": "h", "time_stamp": i})
    everything = api.call("GET", base, tok, limit=100).json()["backups"]
    assert [b["backup_metadata"]["backup_name"] for b in everything] == [f"b{i}" for i in range(8)]
    assert len(api.call("GET", base, tok, limit=5).json()["backups"]) == 5
    assert len(api.call("GET", base, tok, limit=3, offset=5).json()["backups"]) == 3
    assert api.call("GET", base, tok, offset=10).json()["backups"] == []
    assert len(api.call("GET", base, tok).json()["backups"]) == 8
    pages = [b for off in (0, 5) for b in api.call("GET", base, tok, limit=5, offset=off).json()["backups"]]
    assert pages == everything
    r = api.call("GET", base, tok, limit="abc")
    assert r.status_code == 400 and r.json()["title"] == "Invalid parameter"


def test_search(api: ApiServer, project: str, tok: str, client: str) -> None:
    base = f"/v2/{project}/jobs"
    api.call("POST", base, tok, job_body(client))
    api.call("POST", base, tok, job_body(client, description="other"))
    match = api.call("GET", base, tok, {"match": [{"description": "d"}]}).json()["jobs"]
    assert [j["description"] for j in match] == ["d"]
    assert [j["description"] for j in api.call("GET", base, tok, {"match_not": [{"description": "d"}]}
                                               ).json()["jobs"]] == ["other"]
    assert api.call("GET", base, tok, {"match": [{"_all": '[{"description": "d"}]'}]}).json()["jobs"] == match
    assert [j["description"] for j in api.call("GET", base, tok, {"match": [{"_all": "other"}]}
                                               ).json()["jobs"]] == ["other"]
    r = api.call("GET", base, tok, raw=b"{bad")
    assert r.status_code == 753 and r.json()["title"] == "Malformed JSON"
    poll = {"match_not": [{"status": "completed"}], "match": [{"client_id": client}]}
    assert len(api.call("GET", base, tok, poll, limit=10, offset=0).json()["jobs"]) == 2


def test_sessions(api: ApiServer, project: str, tok: str, job: str, client: str) -> None:
    r = api.call("POST", f"/v2/{project}/sessions", tok,
                 {"description": "s", "hold_off": 60, "schedule": {"schedule_interval": "1 days"}})
    assert r.status_code == 201
    s = f"/v2/{project}/sessions/{r.json()['session_id']}"
    doc = api.call("GET", s, tok).json()
    assert (doc["status"], doc["session_tag"], doc["time_start"]) == ("active", 0, -1)
    assert api.call("PUT", f"{s}/jobs/{job}", tok).status_code == 204
    assert api.call("GET", s, tok).json()["jobs"][job]["client_id"] == client
    assert api.call("GET", f"/v2/{project}/jobs/{job}", tok).json()["session_id"] == s.rsplit("/", 1)[1]
    start = {"start": {"job_id": job, "current_tag": 0}}
    for _ in range(2):
        r = api.call("POST", f"{s}/action", tok, start)
        assert (r.status_code, r.json()) == (202, {"result": "success", "session_tag": 1})
    r = api.call("POST", f"{s}/action", tok, {"start": {"job_id": job, "current_tag": "5"}})
    assert r.status_code == 400
    assert r.json()["description"] == "requested tag value too high. Session Tag: 1 Job Tag: 5"
    r = api.call("POST", f"{s}/action", tok, {"end": {"job_id": job, "current_tag": 1, "result": "success"}})
    assert r.status_code == 202
    doc = api.call("GET", s, tok).json()
    assert (doc["status"], doc["result"]) == ("completed", "success")
    assert api.call("POST", f"{s}/action", tok, {"bogus": {}}).status_code == 405
    assert api.call("POST", f"{s}/action", tok, {"start": {"job_id": "x", "current_tag": 0}}).status_code == 400
    r = api.call("PATCH", s, tok, {"description": "s2"})
    assert r.status_code == 200 and isinstance(r.json()["version"], int)
    assert api.call("DELETE", f"{s}/jobs/{job}", tok).status_code == 204
    j = api.call("GET", f"/v2/{project}/jobs/{job}", tok).json()
    assert (j["session_id"], j["job_schedule"]) == ("", {"event": "stop"})
    assert api.call("DELETE", s, tok).status_code == 204
    assert api.call("GET", s, tok).status_code == 404


def test_roles(api: ApiServer, project: str, tok: str, job: str) -> None:
    other = api.new_project()
    r = api.call("GET", f"/v2/{other}/jobs", tok)
    assert r.status_code == 403
    assert r.json() == {"title": "Access Forbidden", "description": "You are not allowed to access this resource"}
    r = api.call("POST", f"/v2/{project}/actions", reader_token(project), {"freezer_action": {"action": "info"}})
    assert r.status_code == 403
    assert api.call("GET", f"/v2/{project}/jobs", reader_token(project)).status_code == 200
    r = api.call("GET", f"/v2/{other}/jobs", ADMIN, limit=1000)
    assert r.status_code == 200 and job in [j["job_id"] for j in r.json()["jobs"]]
    assert api.call("GET", f"/v2/{other}/jobs/{job}", ADMIN).status_code == 200
    mine = api.call("GET", f"/v2/{other}/jobs", ADMIN, all_projects="false").json()["jobs"]
    assert job not in [j["job_id"] for j in mine]


def test_http_errors(api: ApiServer, project: str, tok: str) -> None:
    r = api.call("GET", f"/v2/{project}/jobs/none", tok)
    assert (r.status_code, r.content) == (404, b"")
    r = api.call("PUT", f"/v2/{project}/jobs", tok, {})
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST, OPTIONS"
    assert r.json() == {"title": "405 Method Not Allowed"}
    r = api.call("GET", f"/v2/{project}/nothing", tok)
    assert (r.status_code, r.json()) == (404, {"title": "404 Not Found"})
    r = api.call("POST", f"/v2/{project}/jobs", tok, {})
    assert r.status_code == 400 and r.json()["description"] == "Missing request body"
    r = api.call("POST", f"/v2/{project}/jobs", tok, raw=b"[1,")
    assert (r.status_code, r.json()["title"]) == (753, "Malformed JSON")
    assert api.call("POST", f"/v2/{project}/jobs", tok, [1, 2]).status_code == 400
