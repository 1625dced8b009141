"""Helpers to run a real ``freezer-scheduler`` process for the end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy (the tests' only waiting, bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class SchedulerProcess:
    def __init__(self, tmp: Path, args: list[str], env: dict[str, str] | None = None, name: str = "s") -> None:
        self.state = tmp / f"state-{name}"
        self.log = tmp / f"scheduler-{name}.log"
        self.argv = [sys.executable, "-m", "freezer_cli.scheduler", "start", "--no-daemon", "-i", "1",
                     "--state-dir", str(self.state), "--pidfile", str(tmp / f"{name}.pid"), *args]
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SchedulerProcess:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                         cwd=str(Path(__file__).parents[2]))
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


@pytest.fixture
def schedulers(tmp_path: Path) -> Iterator[Callable[..., SchedulerProcess]]:
    started: list[SchedulerProcess] = []

    def make(args: list[str], env: dict[str, str] | None = None, name: str = "s") -> SchedulerProcess:
        proc = SchedulerProcess(tmp_path, args, env, name).start()
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


def fs_job(src: Path, store: Path, name: str, schedule: dict[str, Any] | None = None,
           extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The deployment note's job file, adapted to an fs backup on local storage."""
    return {"job-action": [{"freezer_action": {"action": "backup", "mode": "fs", "path_to_backup": f"{src}/",
                                               "backup-name": name, "container": str(store), "storage": "local",
                                               "engine_name": "tar", **(extra or {})},
                            "exit_status": "success", "max_retries": 0, "max_retries_interval": 1,
                            "mandatory": True}],
            "job_schedule": schedule if schedule is not None else {"schedule_start_date": "",
                                                                    "schedule_interval": "2 seconds"},
            "description": "scheduled test"}


def make_tree(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "a.txt").write_text("hello\n")
    (root / "sub").mkdir(exist_ok=True)
    (root / "sub" / "b.bin").write_bytes(os.urandom(50000))
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
