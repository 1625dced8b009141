"""Running actions in child processes, and the run journal that survives a scheduler crash.

Each action runs ``freezer_core.run`` in its own child process, in its own
process group: an abort kills the group (SIGTERM, then SIGKILL after a grace
period) and the scheduler stays healthy whatever the action does.  The child
is a new session, so a ``kill -9`` of the scheduler does not kill it; the
journal (one small file per running job, locked by the scheduler that owns
the run) lets the next scheduler adopt the child and collect its outcome, so
a crash neither loses the run nor repeats it.  The journal never holds the
action itself (it may hold passwords).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from freezer_core.errors import EngineError, FreezerError, Interrupted
from freezer_core.models import Action

KILL_GRACE = 3.0
"""Seconds between SIGTERM and SIGKILL of an aborted child (abort completes well within 5 s)."""
POLL = 0.1


class Aborted(Interrupted):
    """The action was aborted (abort event, or the scheduler shutting down)."""


@dataclass
class Entry:
    """What the journal knows about one job's run in progress."""

    job_id: str
    time_started: int
    index: int = 0
    attempt: int = 0
    pid: int | None = None
    pid_start: str | None = None
    result_path: str | None = None
    outcomes: list[str] = field(default_factory=list)
    """``success`` / ``fail`` / ``aborted`` of each action already finished."""


class Journal:
    """``<dir>/<job_id>.json`` per run in progress, each guarded by a lock its owner holds."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._locks: dict[str, IO[bytes]] = {}
        self._mutex = threading.Lock()

    def _lock(self, job_id: str) -> bool:
        with self._mutex:
            if job_id in self._locks:
                return True
            fh = open(self.dir / f"{job_id}.lock", "ab")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                return False
            self._locks[job_id] = fh
            return True

    def begin(self, entry: Entry) -> None:
        if not self._lock(entry.job_id):
            raise FreezerError(f"job {entry.job_id} is being run by another scheduler on this host")
        self.save(entry)

    def save(self, entry: Entry) -> None:
        path = self.dir / f"{entry.job_id}.json"
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(entry), fh)
        os.replace(tmp, path)

    def end(self, job_id: str) -> None:
        for suffix in (".json", ".lock"):
            (self.dir / f"{job_id}{suffix}").unlink(missing_ok=True)
        with self._mutex:
            fh = self._locks.pop(job_id, None)
        if fh is not None:
            fh.close()

    def orphans(self) -> list[Entry]:
        """Runs left by a scheduler that died (their lock is free); this scheduler now owns them."""
        found = []
        for path in sorted(self.dir.glob("*.json")):
            try:
                entry = Entry(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError):
                continue
            if self._lock(entry.job_id):
                found.append(entry)
        return found


def _start_time(pid: int) -> str | None:
    """The process start time from /proc (tells a live child from a reused pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def alive(pid: int, start: str | None) -> bool:
    state = None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and (start is None or _start_time(pid) == start)


def kill_group(pid: int, start: str | None, grace: float = KILL_GRACE) -> None:
    """SIGTERM the child's process group, SIGKILL it if it is still there after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive(pid, start):
                return
            time.sleep(POLL)


def read_outcome(path: str | None) -> dict[str, Any] | None:
    if not path:
        return None
    try:
        outcome: dict[str, Any] = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    Path(path).unlink(missing_ok=True)
    return outcome


def outcome_record(outcome: dict[str, Any] | None) -> dict[str, Any]:
    """The record of a successful outcome, or the matching error raised."""
    if outcome is None:
        raise EngineError("the action ended without an outcome (the process was killed)")
    if outcome.get("aborted"):
        raise Aborted("aborted")
    if not outcome.get("ok"):
        raise EngineError(str(outcome.get("error") or "the action failed"))
    record: dict[str, Any] = outcome.get("record") or {}
    return record


class ChildExecutor:
    """Runs an action in ``python -m freezer_service.scheduler.child``; the action goes through stdin."""

    def __init__(self, journal: Journal, log_path: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.journal = journal
        self.log_path = log_path
        self.env = env

    def __call__(self, action: Action, cancel: threading.Event, entry: Entry,
                 started: Callable[[int], None] | None = None) -> dict[str, Any]:
        result_path = str(self.journal.dir / f"{entry.job_id}.{entry.index}.{entry.attempt}.result")
        Path(result_path).unlink(missing_ok=True)
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            proc = subprocess.Popen([sys.executable, "-m", "freezer_service.scheduler.child", result_path],
                                    stdin=subprocess.PIPE, stdout=log, stderr=log, start_new_session=True,
                                    env=self.env, close_fds=True)
        finally:
            if not isinstance(log, int):
                log.close()
        entry.pid, entry.pid_start, entry.result_path = proc.pid, _start_time(proc.pid), result_path
        self.journal.save(entry)
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(action.to_dict()).encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
        if started is not None:
            started(proc.pid)
        while proc.poll() is None:
            if cancel.wait(POLL):
                kill_group(proc.pid, entry.pid_start)
                proc.wait()
                raise Aborted("aborted")
        return outcome_record(read_outcome(result_path))

    def adopt(self, entry: Entry, cancel: threading.Event) -> dict[str, Any]:
        """Wait for a child started by a scheduler that died, and return its outcome."""
        pid = entry.pid
        while pid is not None and alive(pid, entry.pid_start):
            if cancel.wait(POLL * 5):
                kill_group(pid, entry.pid_start)
                raise Aborted("aborted")
        return outcome_record(read_outcome(entry.result_path))
