"""50 concurrent clients creating and patching jobs and sessions: no lost update, no 5xx."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.api.server import ApiServer, member_token

WORKERS = 50


def test_concurrent_creates_and_patches(api: ApiServer) -> None:
    project = api.new_project()
    tok = member_token(project)
    client = f"{project}_node"
    api.call("POST", f"/v2/{project}/clients", tok, {"client_id": client})
    session = api.call("POST", f"/v2/{project}/sessions", tok, {"description": "s"}).json()["session_id"]

    def work(i: int) -> list[int]:
        r = api.call("POST", f"/v2/{project}/jobs", tok, {"client_id": client, "description": f"job{i}",
                                                          "job_actions": [{"freezer_action": {"action": "info"}}]})
        job = r.json().get("job_id", "")
        patch = api.call("PATCH", f"/v2/{project}/sessions/{session}", tok,
                         {"jobs": {job: {"client_id": client, "status": "", "result": ""}}})
        event = api.call("POST", f"/v2/{project}/jobs/{job}/event", tok, {"stop": None})
        return [r.status_code, patch.status_code, event.status_code]

    with ThreadPoolExecutor(WORKERS) as pool:
        statuses = list(pool.map(work, range(WORKERS)))
    assert statuses == [[201, 200, 202]] * WORKERS
    jobs = api.call("GET", f"/v2/{project}/jobs", tok, limit=1000).json()["jobs"]
    assert sorted(j["description"] for j in jobs) == sorted(f"job{i}" for i in range(WORKERS))
    assert all(j["job_schedule"]["event"] == "stop" for j in jobs)
    doc = api.call("GET", f"/v2/{project}/sessions/{session}", tok).json()
    assert set(doc["jobs"]) == {j["job_id"] for j in jobs}
