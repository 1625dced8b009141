"""Where the scheduler's jobs come from and where it reports: the interface, and job snapshots.

The scheduler core talks to a :class:`JobSource` only, so its logic is the
same against the Freezer API (:mod:`.api`), a directory of job files
(:mod:`.files`, ``--no-api``) and the in-memory source of the tests.

Exactly-once across several schedulers that share a client id rests on one
primitive: :meth:`JobSource.update_schedule` with the ``version`` of the
snapshot the decision was made on, answered with :class:`Conflict` when the
job changed since.  A scheduler claims a run by moving the job to
``running`` this way; of two schedulers only one can win the claim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from freezer_core.errors import FreezerError
from freezer_core.models import Job


class SourceError(FreezerError):
    """The job source failed (API unreachable, unexpected answer)."""


class Conflict(SourceError):
    """The job changed since the snapshot an update was based on: read it again and decide again."""

    http_status = 409


@dataclass
class Snapshot:
    """A job as read at one ``version`` (``None`` when the source does not version documents)."""

    job: Job
    version: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def job_id(self) -> str:
        return str(self.job.job_id)

    @property
    def schedule(self) -> dict[str, Any]:
        return dict(self.job.job_schedule)

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Snapshot:
        """From a job document; ``_version`` (or ``version``), when the source sets it, is the version."""
        body = {k: v for k, v in doc.items() if k not in ("_version", "version")}
        version = doc.get("_version", doc.get("version"))
        return cls(Job.from_dict(body), version if isinstance(version, int) else None, doc)


class JobSource(Protocol):
    """What the scheduler needs from the API (or from its stand-ins)."""

    versioned: bool
    """True when updates honour ``version`` (needed for several schedulers per client id)."""

    def register(self, client: dict[str, Any]) -> None:
        """Register this node's client document; an existing registration is fine."""

    def jobs(self, client_id: str) -> list[Snapshot]:
        """The client's jobs that are not completed."""

    def job(self, job_id: str) -> Snapshot | None:
        """One job as it is now, or ``None`` when it was deleted."""

    def update_schedule(self, snap: Snapshot, schedule: dict[str, Any], *,
                        session_tag: int | None = None) -> Snapshot:
        """Replace the job's ``job_schedule`` if it is still at ``snap.version``.

        :raises Conflict: the job changed since ``snap`` was read.
        """

    def store_backup(self, record: dict[str, Any]) -> None:
        """Store one backup's result record (idempotent: a record already stored is not duplicated)."""

    def remove_backups(self, record: dict[str, Any]) -> int:
        """Remove the records of the backups an admin action removed; how many were removed."""

    def session_start(self, session_id: str, job_id: str, tag: int) -> tuple[str, int]:
        """Ask to start the session's run: (``success`` | ``hold-off`` | ``out-of-sync``, session tag)."""

    def session_end(self, session_id: str, job_id: str, tag: int, result: str) -> None:
        """Report this job's part of the session run."""

    def report_run(self, job_id: str, schedule: dict[str, Any], results: list[dict[str, Any]]) -> None:
        """Record a finished run for people to read (the API keeps backups; files get a result file)."""
