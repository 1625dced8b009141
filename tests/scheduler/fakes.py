"""In-memory stand-ins for the scheduler's tests: a versioned job source, a clock, an executor."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from freezer_core.models import Action
from freezer_service.scheduler.runner import Aborted, Entry
from freezer_service.scheduler.source import Conflict, Snapshot


class FakeClock:
    """Time that moves only when told to (or when something waits)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.t = start or datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        self.advance(seconds)
        return event.is_set()


class MemorySource:
    """Jobs with versions, as the API with optimistic concurrency keeps them."""

    versioned = True

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, int] = {}
        self.backups: list[dict[str, Any]] = []
        self.clients: list[dict[str, Any]] = []
        self.patches: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def add(self, job_id: str, actions: list[dict[str, Any]], schedule: dict[str, Any] | None = None,
            client_id: str = "c1", **extra: Any) -> None:
        self.docs[job_id] = {"job_id": job_id, "client_id": client_id, "job_schedule": dict(schedule or {}),
                             "job_actions": [{"freezer_action": a, "max_retries": 0} for a in actions], **extra}
        self.versions[job_id] = 1

    def event(self, job_id: str, event: str) -> None:
        with self.lock:
            self.docs[job_id]["job_schedule"]["event"] = event
            if event == "start":
                self.docs[job_id]["job_schedule"].update(status="", result="")
            self.versions[job_id] += 1

    def schedule(self, job_id: str) -> dict[str, Any]:
        return self.docs[job_id]["job_schedule"]

    def register(self, client: dict[str, Any]) -> None:
        self.clients.append(client)

    def _snap(self, job_id: str) -> Snapshot:
        return Snapshot.of({**copy.deepcopy(self.docs[job_id]), "_version": self.versions[job_id]})

    def jobs(self, client_id: str) -> list[Snapshot]:
        with self.lock:
            return [self._snap(j) for j, d in self.docs.items()
                    if d["client_id"] == client_id and d["job_schedule"].get("status") != "completed"]

    def job(self, job_id: str) -> Snapshot | None:
        with self.lock:
            return self._snap(job_id) if job_id in self.docs else None

    def update_schedule(self, snap: Snapshot, schedule: dict[str, Any], *,
                        session_tag: int | None = None) -> Snapshot:
        with self.lock:
            if snap.job_id not in self.docs:
                raise Conflict("deleted")
            if snap.version is not None and snap.version != self.versions[snap.job_id]:
                raise Conflict("changed")
            self.docs[snap.job_id]["job_schedule"] = copy.deepcopy(schedule)
            if session_tag is not None:
                self.docs[snap.job_id]["session_tag"] = session_tag
            self.versions[snap.job_id] += 1
            self.patches.append((snap.job_id, copy.deepcopy(schedule)))
            return self._snap(snap.job_id)

    def store_backup(self, record: dict[str, Any]) -> None:
        self.backups.append(record)

    def remove_backups(self, record: dict[str, Any]) -> int:
        stamps = {b["time_stamp"] for b in record.get("removed_backups", [])}
        before = len(self.backups)
        self.backups = [b for b in self.backups if b.get("time_stamp") not in stamps]
        return before - len(self.backups)

    def session_start(self, session_id: str, job_id: str, tag: int) -> tuple[str, int]:
        return "success", tag + 1

    def session_end(self, session_id: str, job_id: str, tag: int, result: str) -> None:
        pass

    def report_run(self, job_id: str, schedule: dict[str, Any], results: list[dict[str, Any]]) -> None:
        pass


class FakeExecutor:
    """Records each action it is asked to run; ``behaviour(action, attempt)`` may raise."""

    def __init__(self, clock: FakeClock, behaviour: Callable[[Action], Any] | None = None,
                 duration: float = 1.0) -> None:
        self.clock = clock
        self.behaviour = behaviour
        self.duration = duration
        self.calls: list[tuple[str, str, datetime]] = []

    def __call__(self, action: Action, cancel: threading.Event, entry: Entry,
                 started: Callable[[int], None] | None = None) -> dict[str, Any]:
        self.calls.append((entry.job_id, str(action.backup_name), self.clock.now()))
        if started is not None:
            started(4242)
        if self.behaviour is not None:
            self.behaviour(action)
        if self.clock.wait(cancel, self.duration):
            raise Aborted("aborted")
        return {"backup_name": action.backup_name, "time_stamp": int(self.clock.now().timestamp()),
                "container": action.container, "hostname": "h", "removed_backups": []}

    def adopt(self, entry: Entry, cancel: threading.Event) -> dict[str, Any]:
        self.calls.append((entry.job_id, "adopted", self.clock.now()))
        return {"backup_name": "adopted", "time_stamp": int(self.clock.now().timestamp())}
