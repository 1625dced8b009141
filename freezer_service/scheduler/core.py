"""The scheduler: poll, arm triggers, claim due runs, run their actions, report.

One :meth:`Scheduler.tick` does everything that is due at the clock's "now";
the daemon calls it in a loop, the tests call it with an injected clock, so
no test sleeps to see a trigger fire.  Decisions are made on snapshots of the
job documents and written back with the snapshot's version (see
:mod:`.source`): of several schedulers serving one client id, exactly one
wins each run.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol

from freezer_core.errors import FreezerError
from freezer_core.models import Action
from freezer_service.scheduler import machine
from freezer_service.scheduler.runner import Entry, Journal
from freezer_service.scheduler.source import Conflict, JobSource, Snapshot, SourceError
from freezer_service.scheduler.triggers import Trigger, from_epoch

LOG = logging.getLogger("freezer.scheduler")
CAPABILITY_KEYS = {"action": "supported_actions", "mode": "supported_modes", "storage": "supported_storages",
                   "engine_name": "supported_engines"}


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait until ``event`` is set or ``seconds`` pass; True when it was set."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(seconds, 0))


class Executor(Protocol):
    def __call__(self, action: Action, cancel: threading.Event, entry: Entry,
                 started: Callable[[int], None] | None = None) -> dict[str, Any]:
        """Run one action; its result record.  Raises :class:`Aborted` or a FreezerError."""

    def adopt(self, entry: Entry, cancel: threading.Event) -> dict[str, Any]:
        """Collect the outcome of an action started by a scheduler that died."""


@dataclass
class Settings:
    client_id: str
    interval: float = 60.0
    concurrent_jobs: int = 1
    disable_exec: bool = False
    zone: tzinfo = UTC
    abort_check: float = 1.0
    capabilities: dict[str, list[str]] = field(default_factory=dict)
    session_attempts: int = 5
    session_wait: float = 5.0


@dataclass
class Tracked:
    snap: Snapshot
    seen: datetime
    trigger: Trigger


@dataclass
class Run:
    job_id: str
    cancel: threading.Event = field(default_factory=threading.Event)
    shutdown: bool = False
    thread: threading.Thread | None = None


class Scheduler:
    def __init__(self, source: JobSource, settings: Settings, executor: Executor, journal: Journal, *,
                 clock: Clock | None = None, inline: bool = False) -> None:
        self.source, self.settings, self.executor, self.journal = source, settings, executor, journal
        self.clock: Clock = clock or SystemClock()
        self.inline = inline
        self.tracked: dict[str, Tracked] = {}
        self.running: dict[str, Run] = {}
        self.rejected: set[str] = set()
        self._lock = threading.Lock()
        self._next_poll: datetime | None = None
        self._next_abort_check: datetime | None = None
        self.stopping = threading.Event()

    # ------------------------------------------------------------ life cycle

    def start(self, client: dict[str, Any] | None = None) -> None:
        """Register the client, then resume the runs a crashed scheduler left in the journal."""
        if client is not None:
            self.source.register(client)
        for entry in self.journal.orphans():
            snap = self.source.job(entry.job_id)
            if snap is None or snap.schedule.get("status") != "running" or \
                    snap.schedule.get("time_started") != entry.time_started:
                self.journal.end(entry.job_id)
                continue
            LOG.info("job %s: resuming the run a previous scheduler left at action %d", entry.job_id, entry.index + 1)
            self._launch(snap, entry, adopt=entry.pid is not None)

    def tick(self) -> datetime:
        """Do what is due now; return when something is next due."""
        now = self.clock.now()
        if self._next_poll is None or now >= self._next_poll:
            self._next_poll = now + timedelta(seconds=self.settings.interval)
            try:
                self.poll(now)
            except SourceError as exc:
                LOG.warning("poll failed: %s", exc)
        if self.running and (self._next_abort_check is None or now >= self._next_abort_check):
            self._next_abort_check = now + timedelta(seconds=self.settings.abort_check)
            self.check_aborts()
        if not self.stopping.is_set():
            self.dispatch(now)
        wake = [self._next_poll] + [t for t in (self.next_fire(j) for j in list(self.tracked)) if t is not None]
        if self.running:
            wake.append(now + timedelta(seconds=self.settings.abort_check))
        return min(wake)

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            wake = self.tick()
            self.clock.wait(stop, min(max((wake - self.clock.now()).total_seconds(), 0.05), self.settings.interval))
        self.shutdown()

    def shutdown(self, grace: float = 0.0) -> None:
        """Stop dispatching; let running jobs finish for ``grace`` seconds, then abort and report them."""
        self.stopping.set()
        for run in list(self.running.values()):
            if run.thread is not None:
                run.thread.join(grace)
            run.shutdown = True
            run.cancel.set()
        for run in list(self.running.values()):
            if run.thread is not None:
                run.thread.join()

    # ------------------------------------------------------------ polling

    def supported(self, snap: Snapshot) -> str | None:
        """Why this client cannot run the job, or ``None``."""
        for action in snap.job.actions():
            for key, capability in CAPABILITY_KEYS.items():
                allowed = self.settings.capabilities.get(capability)
                if allowed and action.get(key) not in allowed:
                    return f"this client does not support {key} {action.get(key)!r}"
        return None

    def poll(self, now: datetime) -> None:
        snaps = self.source.jobs(self.settings.client_id)
        present = set()
        for snap in snaps:
            present.add(snap.job_id)
            if snap.job_id in self.running:
                if machine.event_of(snap.job_id, snap.schedule) in ("abort", "remove"):
                    self.running[snap.job_id].cancel.set()
                continue
            self._consider(snap, now)
        for job_id in set(self.tracked) - present:
            self.tracked.pop(job_id, None)

    def _consider(self, snap: Snapshot, now: datetime) -> None:
        why = self.supported(snap)
        if why:
            if snap.job_id not in self.rejected:
                self.rejected.add(snap.job_id)
                LOG.warning("job %s ignored: %s", snap.job_id, why)
            return
        decision = machine.decide(snap.job_id, snap.schedule)
        if decision.schedule is not None:
            try:
                snap = self.source.update_schedule(snap, decision.schedule)
            except Conflict:
                return  # someone else changed it: the next poll sees the new state
        if not decision.armed:
            self.tracked.pop(snap.job_id, None)
            return
        try:
            trigger = Trigger.from_schedule(snap.schedule, self.settings.zone)
        except FreezerError as exc:
            if snap.job_id not in self.rejected:
                self.rejected.add(snap.job_id)
                LOG.error("job %s has a bad schedule: %s", snap.job_id, exc)
            return
        old = self.tracked.get(snap.job_id)
        seen = old.seen if old is not None and not decision.restarted else now
        self.tracked[snap.job_id] = Tracked(snap, seen, trigger)
        self.rejected.discard(snap.job_id)
        if trigger.next_fire(from_epoch(snap.schedule.get("time_started")), seen) is None:
            self._complete_unrunnable(snap)

    def _complete_unrunnable(self, snap: Snapshot) -> None:
        LOG.info("job %s: its schedule has no run left (end date passed): completed", snap.job_id)
        self.tracked.pop(snap.job_id, None)
        try:
            self.source.update_schedule(snap, {**snap.schedule, "status": "completed", "event": ""})
        except Conflict:
            pass

    def next_fire(self, job_id: str) -> datetime | None:
        tracked = self.tracked.get(job_id)
        if tracked is None:
            return None
        return tracked.trigger.next_fire(from_epoch(tracked.snap.schedule.get("time_started")), tracked.seen)

    def check_aborts(self) -> None:
        for job_id, run in list(self.running.items()):
            try:
                snap = self.source.job(job_id)
            except SourceError as exc:
                LOG.warning("job %s: cannot check for an abort: %s", job_id, exc)
                continue
            if snap is None or machine.event_of(job_id, snap.schedule) in ("abort", "remove"):
                run.cancel.set()

    # ------------------------------------------------------------ running

    def dispatch(self, now: datetime) -> None:
        due = sorted((t, j) for j in list(self.tracked) if j not in self.running
                     for t in [self.next_fire(j)] if t is not None and t <= now)
        for _, job_id in due:
            if len(self.running) >= self.settings.concurrent_jobs:
                return
            self._claim(job_id, now)

    def _claim(self, job_id: str, now: datetime) -> None:
        """Re-read the job, check it is still due, and move it to ``running`` with that version."""
        tracked = self.tracked[job_id]
        try:
            fresh = self.source.job(job_id)
        except SourceError as exc:
            LOG.warning("job %s: cannot read it before running: %s", job_id, exc)
            return
        if fresh is None:
            self.tracked.pop(job_id, None)
            return
        if fresh.schedule.get("status") != "scheduled" or machine.event_of(job_id, fresh.schedule):
            self.tracked.pop(job_id, None)  # changed since the poll: the next poll decides again
            self._next_poll = now
            return
        fire = tracked.trigger.next_fire(from_epoch(fresh.schedule.get("time_started")), tracked.seen)
        if fire is None or fire > now:
            tracked.snap = fresh
            return
        started = int(now.timestamp())
        try:
            claimed = self.source.update_schedule(fresh, machine.claim(fresh.schedule, started, 0))
        except Conflict:
            tracked.snap = fresh
            self._next_poll = now  # lost the race (or the job changed): look again
            return
        except SourceError as exc:
            LOG.warning("job %s: cannot claim it: %s", job_id, exc)
            return
        tracked.snap = claimed
        entry = Entry(job_id, started)
        try:
            self.journal.begin(entry)
        except FreezerError as exc:
            LOG.error("%s", exc)
            return
        self._launch(claimed, entry, adopt=False)

    def _launch(self, snap: Snapshot, entry: Entry, adopt: bool) -> None:
        run = Run(snap.job_id)
        with self._lock:
            self.running[snap.job_id] = run
        if self.inline:
            self._run(snap, entry, run, adopt)
            return
        run.thread = threading.Thread(target=self._run, args=(snap, entry, run, adopt),
                                      name=f"job-{snap.job_id}", daemon=True)
        run.thread.start()

    def _run(self, snap: Snapshot, entry: Entry, run: Run, adopt: bool) -> None:
        from freezer_service.scheduler.execution import execute_job

        try:
            result = execute_job(self, snap, entry, run, adopt)
            self._finish(snap, entry, run, result)
        except Exception:  # never leave a job "running" because of a bug here
            LOG.exception("job %s: unexpected failure", snap.job_id)
            self._finish(snap, entry, run, "fail")
        finally:
            with self._lock:
                self.running.pop(snap.job_id, None)

    def _finish(self, snap: Snapshot, entry: Entry, run: Run, result: str) -> None:
        interrupted = run.shutdown and result == "aborted"
        for _ in range(10):
            try:
                fresh = self.source.job(snap.job_id)
                if fresh is None:
                    break
                trigger = Trigger.from_schedule(fresh.schedule, self.settings.zone)
                more = trigger.next_fire(datetime.fromtimestamp(entry.time_started, UTC),
                                         self.clock.now()) is not None
                schedule = machine.finish(fresh.schedule, int(self.clock.now().timestamp()), result, more,
                                          interrupted=interrupted)
                updated = self.source.update_schedule(fresh, schedule)
                self.source.report_run(snap.job_id, schedule, [])
                if snap.job_id in self.tracked:
                    self.tracked[snap.job_id].snap = updated
                break
            except Conflict:
                continue
            except (SourceError, FreezerError) as exc:
                LOG.error("job %s: cannot report the end of the run: %s", snap.job_id, exc)
                if self.clock.wait(self.stopping, 2.0) and not run.shutdown:
                    break
        LOG.info("job %s: run finished: %s", snap.job_id, result)
        self.journal.end(snap.job_id)
        self._next_poll = min(self._next_poll or self.clock.now(), self.clock.now())


def default_client_id(project_id: str | None) -> str:
    host = os.uname().nodename
    return f"{project_id}_{host}" if project_id else host
