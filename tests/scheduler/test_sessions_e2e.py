"""End to end on a real ``freezer-api`` (SQLite): a session of two jobs on two nodes, run by two schedulers.

Each node is a client id served by its own ``freezer-scheduler``.  The jobs
are added to the session stopped (the session's schedule is copied onto
them), then started with ``freezer job-start``; each scheduler then asks the
session to start (``POST sessions/{id}/action {"start": ...}``), runs its
job and reports the result (``{"end": ...}``).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.api.server import ApiServer
from tests.scheduler.conftest import SchedulerProcess, fs_job, make_tree, wait_for
from tests.scheduler.test_api_e2e import Project, api, scheduler

__all__ = ["api"]  # the module-scoped API server fixture, shared with test_api_e2e

NODES = ("node1.example.org", "node2.example.org")


def _session_create(tmp: Path, project: Project, description: str, hold_off: int = 60) -> str:
    path = tmp / f"session-{os.urandom(4).hex()}.json"
    path.write_text(json.dumps({"description": description, "hold_off": hold_off, "schedule": {"status": "stop"}}))
    found = re.search(r"Session (\S+) created", project.freezer("session-create", "--file", str(path)))
    assert found, "session-create did not print the new session id"
    return found.group(1)


def _two_node_session(tmp: Path, project: Project, schedulers: Callable[..., SchedulerProcess],
                      jobs: list[dict[str, Any]], description: str,
                      hold_off: int = 60) -> tuple[str, list[str], list[SchedulerProcess]]:
    """Two schedulers (one per node), one job per node, both added to a new session; nothing started yet."""
    procs = [scheduler(schedulers, project, f"n{i}", node) for i, node in enumerate(NODES)]
    listed = project.freezer("client-list")
    assert all(node in listed for node in NODES)
    session_id = _session_create(tmp, project, description, hold_off)
    ids = [project.job_create(tmp, job, node) for job, node in zip(jobs, NODES, strict=True)]
    for job_id in ids:
        project.freezer("session-add-job", "--session-id", session_id, "--job-id", job_id)
    session = project.call("GET", f"sessions/{session_id}")
    assert session["status"] == "active" and session["session_tag"] == 0 and session["time_start"] == -1
    assert {j: e["client_id"] for j, e in session["jobs"].items()} == dict(zip(ids, NODES, strict=True))
    for job_id in ids:
        job = project.job(job_id)
        assert job["session_id"] == session_id and job["session_tag"] == 0
        assert job["job_schedule"].get("status") == "stop"  # the session's schedule, copied onto the job
    return session_id, ids, procs


def _start_and_wait(project: Project, session_id: str, ids: list[str]) -> dict[str, Any]:
    for job_id in ids:
        project.freezer("job-start", job_id)
    wait_for("both jobs to complete", lambda: all(project.job(j)["job_schedule"].get("status") == "completed"
                                                  for j in ids), timeout=120)
    return dict(wait_for("the session to complete",
                         lambda: (s := project.call("GET", f"sessions/{session_id}"))["status"] == "completed" and s))


def _job(src: Path, store: Path, name: str) -> dict[str, Any]:
    return {**fs_job(src, store, name, {"status": "stop"}), "description": f"session job {name}"}


def test_two_nodes_run_one_session_round(tmp_path: Path, api: ApiServer,
                                         schedulers: Callable[..., SchedulerProcess]) -> None:
    project = Project(api)
    store = tmp_path / "store"
    src1, src2 = make_tree(tmp_path / "src1"), make_tree(tmp_path / "src2")
    session_id, ids, procs = _two_node_session(tmp_path, project, schedulers,
                                               [_job(src1, store, "s-one"), _job(src2, store, "s-two")], "two nodes")
    session = _start_and_wait(project, session_id, ids)

    assert session["result"] == "success"
    assert session["session_tag"] == 1  # one round: the first job moved the tag, the second joined it
    assert session["time_start"] > 0 and session["time_end"] >= session["time_start"]
    for job_id in ids:
        entry = session["jobs"][job_id]
        assert entry["status"] == "completed" and entry["result"] == "success"
        assert entry["time_started"] >= session["time_start"] and entry["time_ended"] >= entry["time_started"]
        job = project.job(job_id)
        assert job["session_id"] == session_id
        assert job["session_tag"] == session["session_tag"]
        assert job["job_schedule"]["result"] == "success"

    listed = {row["Backup ID"] for row in json.loads(project.freezer("backup-list", "-f", "json"))}
    for job_id, name in zip(ids, ("s-one", "s-two"), strict=True):
        records = project.backups(job_id)
        assert len(records) == 1
        assert records[0]["backup_metadata"]["backup_name"] == name
        assert records[0]["backup_id"] in listed
    # each node ran its own job: the job's run is in that node's scheduler log only
    for proc, own, other in ((procs[0], ids[0], ids[1]), (procs[1], ids[1], ids[0])):
        log = proc.text()
        assert f"job {own}: run finished: success" in log
        assert f"job {other}:" not in log


def test_a_failing_job_fails_the_session(tmp_path: Path, api: ApiServer,
                                         schedulers: Callable[..., SchedulerProcess]) -> None:
    project = Project(api)
    store = tmp_path / "store"
    src = make_tree(tmp_path / "src")
    good, bad = _job(src, store, "f-good"), _job(tmp_path / "does-not-exist", store, "f-bad")
    session_id, ids, _ = _two_node_session(tmp_path, project, schedulers, [good, bad], "one fails")
    session = _start_and_wait(project, session_id, ids)

    assert session["result"] == "fail"
    assert session["session_tag"] == 1
    assert session["jobs"][ids[0]]["result"] == "success"
    assert session["jobs"][ids[1]]["result"] == "fail"
    assert project.job(ids[0])["job_schedule"]["result"] == "success"
    assert project.job(ids[1])["job_schedule"]["result"] == "fail"
    assert all(project.job(j)["session_tag"] == 1 for j in ids)
    assert len(project.backups(ids[0])) == 1
    assert project.backups(ids[1]) == []


HOLD_OFF = 12
"""Seconds the second node has to join a round; a new round opens only after it (long enough for a busy host)."""


def _session(project: Project, session_id: str) -> dict[str, Any]:
    return dict(project.call("GET", f"sessions/{session_id}"))


def _after_hold_off(project: Project, session_id: str) -> None:
    """Wait until the last round's hold-off is over, so that the next start opens a new round at once."""
    opened = _session(project, session_id)["time_start"]
    wait_for("the hold-off to pass", lambda: time.time() > opened + HOLD_OFF + 1, timeout=HOLD_OFF + 5)


def test_three_rounds_each_reports_its_own_result(tmp_path: Path, api: ApiServer,
                                                  schedulers: Callable[..., SchedulerProcess]) -> None:
    """Round 1 succeeds, round 2 fails on node 2, round 3 succeeds: the session shows each round's own result.

    In round 2 node 1 ends its job before node 2 has even started: node 2's
    entry still said "success" from round 1, and before rounds were kept
    apart the session completed round 2 with that stale result.
    """
    project = Project(api)
    store = tmp_path / "store"
    src1, src2 = make_tree(tmp_path / "src1"), make_tree(tmp_path / "src2")
    session_id, (one, two), procs = _two_node_session(
        tmp_path, project, schedulers, [_job(src1, store, "r-one"), _job(src2, store, "r-two")], "rounds",
        hold_off=HOLD_OFF)

    session = _start_and_wait(project, session_id, [one, two])
    assert (session["session_tag"], session["result"]) == (1, "success")

    _after_hold_off(project, session_id)
    src2.rename(tmp_path / "src2-away")  # node 2's backup fails this round
    project.freezer("job-start", one)
    session = wait_for("node 1 to end round 2", lambda: (s := _session(project, session_id))["session_tag"] == 2
                       and s["jobs"][one]["status"] == "completed" and s)
    assert (session["status"], session["result"]) == ("running", "")  # node 2 has not run round 2 yet
    assert session["jobs"][two]["status"] in ("", "running")
    project.call("POST", f"jobs/{two}/event", {"start": None})
    wait_for("node 2's job", lambda: project.job(two)["job_schedule"].get("status") == "completed", timeout=60)
    session = wait_for("round 2 to complete",
                       lambda: (s := _session(project, session_id))["status"] == "completed" and s)
    assert (session["session_tag"], session["result"]) == (2, "fail")
    assert session["jobs"][one]["result"] == "success" and session["jobs"][two]["result"] == "fail"
    assert session["time_end"] >= session["time_start"]
    assert session["jobs"][two]["time_started"] - session["time_start"] <= HOLD_OFF  # node 2 joined late, in time

    _after_hold_off(project, session_id)
    (tmp_path / "src2-away").rename(src2)
    session = _start_and_wait(project, session_id, [one, two])
    assert (session["session_tag"], session["result"]) == (3, "success")
    assert {e["result"] for e in session["jobs"].values()} == {"success"}

    for job_id, runs, results in ((one, 3, "success"), (two, 2, "success")):
        job = project.job(job_id)
        assert job["session_tag"] == 3 and job["job_schedule"]["result"] == results
        assert len(project.backups(job_id)) == runs  # one backup per successful run
    for proc in procs:
        assert "cannot end session" not in proc.text()  # every end reached the round it belonged to
