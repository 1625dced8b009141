"""``--no-api``: jobs from JSON files in the jobs directory, results written next to them.

Every ``*.json`` or ``*.conf`` file in the directory is one job document (the
format ``freezer job-create --file`` reads; ``"job-action"`` and an empty
``job_schedule`` included).  The files are the user's and are never
rewritten: the scheduler keeps a job's runtime state (status, result, times)
in ``<file>.state`` and writes the outcome of each run, with the result
records of its backups, to ``<file>.result`` (both JSON, mode 0600, no
secrets: records hold no passwords).  Files are re-read on every poll, so a
job added to the directory is picked up without a restart; a job whose file
was removed is dropped.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from freezer_core.errors import FreezerError
from freezer_service.scheduler.source import Conflict, Snapshot

LOG = logging.getLogger("freezer.scheduler.files")
RUNTIME_KEYS = ("status", "event", "result", "time_started", "time_ended", "current_pid")


def _write(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)


class FileSource:
    """A :class:`~.source.JobSource` over a directory of job files (one scheduler per directory)."""

    versioned = True

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._lock = threading.RLock()
        self._paths: dict[str, Path] = {}
        self._versions: dict[str, int] = {}
        self._records: dict[str, list[dict[str, Any]]] = {}
        self._warned: set[Path] = set()

    def _files(self) -> list[Path]:
        if not self.dir.is_dir():
            raise FreezerError(f"the jobs directory {self.dir} does not exist: create it or pass -f DIR")
        return sorted(p for p in self.dir.iterdir() if p.suffix in (".json", ".conf") and p.is_file())

    def _state_path(self, path: Path) -> Path:
        return path.with_name(path.name + ".state")

    def _load(self, path: Path) -> Snapshot | None:
        try:
            doc = json.loads(path.read_text())
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
            doc = dict(doc)
            doc.setdefault("job_id", path.stem)
            snap = Snapshot.of(doc)
        except (OSError, ValueError, FreezerError) as exc:
            if path not in self._warned:
                self._warned.add(path)
                LOG.error("job file %s ignored: %s", path, exc)
            return None
        state_path = self._state_path(path)
        state: dict[str, Any] = {}
        if state_path.exists():
            try:
                state = json.loads(state_path.read_text())
            except (OSError, ValueError):
                state = {}
        schedule = {k: v for k, v in snap.job.job_schedule.items() if k not in RUNTIME_KEYS}
        schedule.update({k: v for k, v in state.get("job_schedule", {}).items() if k in RUNTIME_KEYS})
        snap.job.job_schedule = schedule
        snap.version = int(state.get("version", 0))
        self._paths[snap.job_id] = path
        self._versions[snap.job_id] = snap.version
        return snap

    # ------------------------------------------------------------ JobSource

    def register(self, client: dict[str, Any]) -> None:
        LOG.info("no-api mode: client %s is not registered anywhere", client.get("client_id"))

    def jobs(self, client_id: str) -> list[Snapshot]:
        with self._lock:
            found = [s for s in (self._load(p) for p in self._files()) if s is not None]
            return [s for s in found if s.schedule.get("status") not in ("completed", "removed")]

    def job(self, job_id: str) -> Snapshot | None:
        with self._lock:
            path = self._paths.get(job_id)
            if path is None or not path.exists():
                return None
            return self._load(path)

    def update_schedule(self, snap: Snapshot, schedule: dict[str, Any], *,
                        session_tag: int | None = None) -> Snapshot:
        with self._lock:
            path = self._paths.get(snap.job_id)
            if path is None or not path.exists():
                raise Conflict(f"job file of {snap.job_id} was removed")
            current = self._versions.get(snap.job_id, 0)
            if snap.version is not None and snap.version != current:
                raise Conflict(f"job {snap.job_id} changed since version {snap.version}")
            version = current + 1
            runtime = {k: v for k, v in schedule.items() if k in RUNTIME_KEYS}
            _write(self._state_path(path), {"job_id": snap.job_id, "version": version, "job_schedule": runtime})
            self._versions[snap.job_id] = version
            snap.job.job_schedule = dict(schedule)
            return Snapshot(snap.job, version, snap.raw)

    def store_backup(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._records.setdefault(str(record.get("job_id")), []).append(record)

    def remove_backups(self, record: dict[str, Any]) -> int:
        return 0

    def session_start(self, session_id: str, job_id: str, tag: int) -> tuple[str, int]:
        return "success", tag + 1  # one node, no API: nobody to wait for

    def session_end(self, session_id: str, job_id: str, tag: int, result: str) -> None:
        return None

    def report_run(self, job_id: str, schedule: dict[str, Any], results: list[dict[str, Any]]) -> None:
        with self._lock:
            path = self._paths.get(job_id)
            records = self._records.pop(job_id, [])
            if path is None:
                return
            _write(path.with_name(path.name + ".result"), {
                "job_id": job_id, **{k: schedule.get(k) for k in ("status", "result", "time_started", "time_ended")},
                "backups": records})
        LOG.info("job %s: %s (%s); result in %s", job_id, schedule.get("result"), schedule.get("status"),
                 path.name + ".result")
