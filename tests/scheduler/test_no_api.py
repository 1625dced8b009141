"""``--no-api`` end to end: a real scheduler process runs job files with real child processes."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import freezer_core
from tests.scheduler.conftest import SchedulerProcess, fs_job, make_tree, read_json, tree, wait_for


def test_no_api_jobs_run_on_schedule_and_restore(tmp_path: Path,
                                                 schedulers: Callable[..., SchedulerProcess]) -> None:
    src, store, jobs = make_tree(tmp_path / "src"), tmp_path / "store", tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "every.json").write_text(json.dumps(fs_job(src, store, "every")))
    (jobs / "once.conf").write_text(json.dumps(fs_job(src, store, "once", {})))
    proc = schedulers(["-n", "-f", str(jobs)])
    backups = wait_for("three runs of the interval job",
                       lambda: len(list((store / "data" / "tar").glob("*_every/*"))) >= 3 or None)
    assert backups
    once = wait_for("the one-off result", lambda: read_json(jobs / "once.conf.result"))
    assert once["status"] == "completed" and once["result"] == "success"
    assert len(once["backups"]) == 1 and once["backups"][0]["backup_name"] == "once"
    assert len(list((store / "data" / "tar").glob("*_once/*"))) == 1
    assert proc.stop(signal.SIGTERM) == 0
    state = read_json(jobs / "every.json.state")
    assert state["job_schedule"]["status"] != "running"
    assert json.loads((jobs / "every.json").read_text()) == fs_job(src, store, "every")  # user's file untouched
    out = tmp_path / "restored"
    freezer_core.run({"action": "restore", "storage": "local", "container": str(store), "backup_name": "every",
                      "restore_abs_path": str(out)})
    assert tree(out) == tree(src)


def test_status_and_stop_through_the_pidfile(tmp_path: Path, schedulers: Callable[..., SchedulerProcess]) -> None:
    import subprocess
    import sys

    jobs = tmp_path / "jobs"
    jobs.mkdir()
    proc = schedulers(["-n", "-f", str(jobs)])
    pidfile = str(tmp_path / "s.pid")
    base = [sys.executable, "-m", "freezer_cli.scheduler"]
    wait_for("the pid file", lambda: (tmp_path / "s.pid").exists() and (tmp_path / "s.pid").read_text().strip())
    status = subprocess.run([*base, "status", "--pidfile", pidfile], capture_output=True, text=True)
    assert status.returncode == 0 and "running" in status.stdout
    second = subprocess.run([*base, "start", "--no-daemon", "-n", "-f", str(jobs), "--pidfile", pidfile,
                             "--state-dir", str(tmp_path / "x")], capture_output=True, text=True, timeout=30)
    assert second.returncode != 0 and "already running" in second.stderr
    stop = subprocess.run([*base, "stop", "--pidfile", pidfile], capture_output=True, text=True, timeout=60)
    assert stop.returncode == 0 and "stopped" in stop.stdout
    assert proc.proc is not None and proc.proc.wait(10) == 0
    status = subprocess.run([*base, "status", "--pidfile", pidfile], capture_output=True, text=True)
    assert status.returncode == 3
