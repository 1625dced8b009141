"""End to end on a real ``freezer-api`` (SQLite): shutdown mid-job, exec actions, secrets, admin removals.

Each test runs a real ``freezer-scheduler`` whose actions run in real child
processes; the API is the module's real server.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.api.server import ApiServer
from tests.scheduler.conftest import SchedulerProcess, fs_job, make_tree, wait_for
from tests.scheduler.test_api_e2e import CLIENT, Project, _pids_of, _slow_job, api, scheduler

__all__ = ["api"]
SECRET = "pw-7f3a9c-never-on-disk"


def _completed(project: Project, job_id: str) -> dict[str, Any]:
    return dict(wait_for(f"job {job_id} to complete",
                         lambda: (j := project.job(job_id))["job_schedule"].get("status") == "completed" and j,
                         timeout=90))


def test_sigterm_mid_job_aborts_reports_and_the_next_scheduler_runs_it(
        tmp_path: Path, api: ApiServer, schedulers: Callable[..., SchedulerProcess]) -> None:
    project = Project(api)
    src, store = make_tree(tmp_path / "src"), tmp_path / "store"
    first = scheduler(schedulers, project, "first")
    job_id = project.job_create(tmp_path, _slow_job(src, store, "term", "term"))
    wait_for("the job to run", lambda: project.job(job_id)["job_schedule"].get("status") == "running"
             and _pids_of(job_id))
    assert first.stop(signal.SIGTERM) == 0
    assert _pids_of(job_id) == []  # the child did not outlive the scheduler
    schedule = project.job(job_id)["job_schedule"]
    assert schedule["status"] == "scheduled" and schedule["result"] == "aborted"  # reported, not left running
    assert "current_pid" not in schedule
    assert project.backups(job_id) == []
    assert not list((tmp_path / "state-first" / "runs").rglob("*.json"))  # nothing left to adopt

    scheduler(schedulers, project, "second")
    done = _completed(project, job_id)
    assert done["job_schedule"]["result"] == "success"  # the one-off job ran at the next start, once
    assert len(project.backups(job_id)) == 1


def test_exec_runs_in_the_child_and_no_secret_reaches_the_disk(
        tmp_path: Path, api: ApiServer, schedulers: Callable[..., SchedulerProcess]) -> None:
    project = Project(api)
    node = tmp_path / "node"  # everything the scheduler writes: state, logs, temporary files, backups
    (node / "tmp").mkdir(parents=True)
    src, store, out = make_tree(node / "src"), node / "store", node / "exec.out"
    proc = schedulers(["-c", CLIENT], env={**project.env, "TMPDIR": str(node / "tmp")}, name="exec")
    wait_for("registration", lambda: "started: client" in proc.text())
    backup = fs_job(src, store, "secret", {}, {"ssh_password": SECRET, "secret_key": SECRET})["job-action"][0]
    job = {"job_actions": [{"freezer_action": {"action": "exec", "command": f"echo ran-$((6*7)) >> {out}"},
                            "max_retries": 0}, backup],
           "job_schedule": {}, "description": "exec and secret"}
    job_id = project.job_create(tmp_path, job)  # the job file is the user's, outside the node's directories
    done = _completed(project, job_id)
    assert done["job_schedule"]["result"] == "success"
    assert out.read_text() == "ran-42\n"  # through /bin/sh, once
    assert len(project.backups(job_id)) == 1
    proc.stop()
    scanned = [p for p in [*node.rglob("*"), *proc.state.rglob("*"), proc.log] if p.is_file()]
    assert proc.log in scanned and any(p.is_relative_to(proc.state) for p in scanned)
    leaks = [str(p) for p in scanned if SECRET.encode() in p.read_bytes()]
    assert leaks == []


def test_disable_exec_client_cannot_get_exec_jobs(tmp_path: Path, api: ApiServer,
                                                  schedulers: Callable[..., SchedulerProcess]) -> None:
    project = Project(api)
    proc = schedulers(["-c", "noexec.example.org", "--disable-exec"], env=project.env, name="noexec")
    wait_for("registration", lambda: "started: client" in proc.text())
    client = next(c["client"] for c in project.call("GET", "clients")["clients"]
                  if c["client"]["client_id"] == "noexec.example.org")
    assert "exec" not in client["supported_actions"] and "backup" in client["supported_actions"]
    r = api.call("POST", f"/v2/{project.id}/jobs", project.token,
                 {"client_id": "noexec.example.org", "job_schedule": {}, "description": "x",
                  "job_actions": [{"freezer_action": {"action": "exec", "command": "true"}}]})
    assert r.status_code == 422 and "exec" in r.json()["description"]


def test_backups_removed_by_an_admin_job_leave_the_api(tmp_path: Path, api: ApiServer,
                                                       schedulers: Callable[..., SchedulerProcess]) -> None:
    project = Project(api)
    src, store = make_tree(tmp_path / "src"), tmp_path / "store"
    scheduler(schedulers, project)
    keep = project.job_create(tmp_path, {**fs_job(src, store, "keep", {}), "description": "keep"})
    old = project.job_create(tmp_path, {**fs_job(src, store, "old", {}), "description": "old"})
    for job_id in (keep, old):
        assert _completed(project, job_id)["job_schedule"]["result"] == "success"
    assert len(project.backups(old)) == 1 and len(project.backups(keep)) == 1
    admin = {"job_actions": [{"freezer_action": {"action": "admin", "storage": "local", "container": str(store),
                                                 "backup_name": "old", "engine_name": "tar",
                                                 "remove_before_date": "2099-01-01T00:00:00"},
                              "max_retries": 0}],
             "job_schedule": {}, "description": "retention"}
    admin_id = project.job_create(tmp_path, admin)
    assert _completed(project, admin_id)["job_schedule"]["result"] == "success"
    assert project.backups(old) == []  # removed from the storage, then from the API
    assert not list((store / "data" / "tar").glob("*_old/*"))
    assert len(project.backups(keep)) == 1  # another backup name is untouched
    assert len(list((store / "data" / "tar").glob("*_keep/*"))) == 1
