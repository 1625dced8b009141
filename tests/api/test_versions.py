"""Optimistic concurrency on jobs: ``_version`` on reads, ``If-Match`` on PATCH.

This is what lets two schedulers share a client id without both starting
the same job run: whoever patches a stale version gets 409 and backs off.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.api.server import ApiServer, member_token


def _job(api: ApiServer, project: str, tok: str) -> str:
    client = f"{project}_node"
    api.call("POST", f"/v2/{project}/clients", tok, {"client_id": client})
    r = api.call("POST", f"/v2/{project}/jobs", tok, {"client_id": client, "description": "v",
                                                      "job_actions": [{"freezer_action": {"action": "info"}}]})
    return str(r.json()["job_id"])


def test_reads_carry_a_version_that_every_write_bumps(api: ApiServer) -> None:
    project = api.new_project()
    tok = member_token(project)
    job_id = _job(api, project, tok)
    first = api.call("GET", f"/v2/{project}/jobs/{job_id}", tok).json()["_version"]
    listed = api.call("GET", f"/v2/{project}/jobs", tok).json()["jobs"][0]["_version"]
    assert isinstance(first, int) and listed == first
    r = api.call("PATCH", f"/v2/{project}/jobs/{job_id}", tok, {"description": "changed"},
                 headers={"If-Match": f'"{first}"'})
    assert r.status_code == 200 and r.json()["version"] > first
    assert api.call("GET", f"/v2/{project}/jobs/{job_id}", tok).json()["_version"] == r.json()["version"]


def test_a_stale_version_is_refused_and_changes_nothing(api: ApiServer) -> None:
    project = api.new_project()
    tok = member_token(project)
    job_id = _job(api, project, tok)
    stale = api.call("GET", f"/v2/{project}/jobs/{job_id}", tok).json()["_version"]
    api.call("PATCH", f"/v2/{project}/jobs/{job_id}", tok, {"description": "first writer"})
    r = api.call("PATCH", f"/v2/{project}/jobs/{job_id}", tok, {"description": "second writer"},
                 headers={"If-Match": f'"{stale}"'})
    assert r.status_code == 409
    assert api.call("GET", f"/v2/{project}/jobs/{job_id}", tok).json()["description"] == "first writer"


def test_only_one_of_many_conditional_claims_wins(api: ApiServer) -> None:
    project = api.new_project()
    tok = member_token(project)
    job_id = _job(api, project, tok)
    version = api.call("GET", f"/v2/{project}/jobs/{job_id}", tok).json()["_version"]

    def claim(i: int) -> int:
        return api.call("PATCH", f"/v2/{project}/jobs/{job_id}", tok,
                        {"job_schedule": {"status": "running", "current_pid": i}},
                        headers={"If-Match": f'"{version}"'}).status_code

    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(claim, range(10)))
    assert sorted(codes) == [200] + [409] * 9


def test_a_malformed_if_match_is_a_clear_400(api: ApiServer) -> None:
    project = api.new_project()
    tok = member_token(project)
    job_id = _job(api, project, tok)
    r = api.call("PATCH", f"/v2/{project}/jobs/{job_id}", tok, {"description": "x"}, headers={"If-Match": "abc"})
    assert r.status_code == 400 and "If-Match" in r.text
