"""One run of a job: session start, the actions in order with retries, reports, session end.

Rules: actions run in order; after a failure only ``mandatory`` actions still
run; each action is tried ``max_retries + 1`` times, ``max_retries_interval``
seconds apart (default: no retry, 60 s); an abort stops at once.  The job's
result is ``aborted`` if it was aborted, else ``fail`` if any action failed,
else ``success``.  Each finished action is written to the journal so that a
scheduler that crashes mid-run resumes after it rather than repeating it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from freezer_core.errors import FreezerError
from freezer_core.models import Action
from freezer_service.scheduler.runner import Aborted, Entry
from freezer_service.scheduler.source import Snapshot, SourceError

if TYPE_CHECKING:
    from freezer_service.scheduler.core import Run, Scheduler

LOG = logging.getLogger("freezer.scheduler")
DEFAULT_RETRY_INTERVAL = 60


def execute_job(sched: Scheduler, snap: Snapshot, entry: Entry, run: Run, adopt: bool) -> str:
    job = snap.job
    tag = int(job.session_tag or 0)
    if job.session_id and entry.index == 0 and not entry.outcomes and not adopt:
        tag_or_none = _session_start(sched, snap, tag, run)
        if tag_or_none is None:
            return "aborted" if run.cancel.is_set() else "fail"
        tag = tag_or_none
    actions = job.actions()
    for index in range(entry.index, len(actions)):
        entry.index = index
        if run.cancel.is_set():
            entry.outcomes.append("aborted")
            break
        outcome = _run_action(sched, snap, entry, run, actions[index], adopt)
        adopt = False
        entry.outcomes.append(outcome)
        entry.attempt = 0
        entry.index = index + 1
        entry.pid = entry.pid_start = entry.result_path = None
        sched.journal.save(entry)
        if outcome == "aborted":
            break
    result = "aborted" if "aborted" in entry.outcomes else "fail" if "fail" in entry.outcomes else "success"
    if job.session_id:
        try:
            sched.source.session_end(str(job.session_id), snap.job_id, tag, result)
        except SourceError as exc:
            LOG.warning("job %s: cannot end session %s: %s", snap.job_id, job.session_id, exc)
    return result


def _session_start(sched: Scheduler, snap: Snapshot, tag: int, run: Run) -> int | None:
    """Join the session's run; the new tag, or ``None`` when the session did not let this job start."""
    session_id = str(snap.job.session_id)
    for attempt in range(sched.settings.session_attempts):
        try:
            answer, new_tag = sched.source.session_start(session_id, snap.job_id, tag)
        except SourceError as exc:
            answer, new_tag = f"error: {exc}", tag
        if answer == "success":
            try:
                sched.source.update_schedule(snap.__class__(snap.job, None, snap.raw), _current(sched, snap),
                                             session_tag=new_tag)
            except (SourceError, FreezerError) as exc:
                LOG.warning("job %s: cannot record session tag %d: %s", snap.job_id, new_tag, exc)
            return new_tag
        LOG.info("job %s: session %s answered %s (attempt %d)", snap.job_id, session_id, answer, attempt + 1)
        if answer == "out-of-sync" and new_tag > tag:
            # This job missed the session's last round: join at the session's tag, which starts a
            # round of its own once the hold-off has passed, instead of asking with a stale tag forever.
            LOG.info("job %s: catching up with session %s at tag %d", snap.job_id, session_id, new_tag)
            tag = new_tag
            continue
        if sched.clock.wait(run.cancel, sched.settings.session_wait * (attempt + 1)):
            return None
    LOG.error("job %s: session %s did not start; this run is skipped", snap.job_id, session_id)
    return None


def _current(sched: Scheduler, snap: Snapshot) -> dict[str, Any]:
    fresh = sched.source.job(snap.job_id)
    return (fresh or snap).schedule


def _run_action(sched: Scheduler, snap: Snapshot, entry: Entry, run: Run, action: Action, adopt: bool) -> str:
    job_action = snap.job.job_actions[entry.index]
    number = f"job {snap.job_id} action {entry.index + 1} ({action.action})"
    if "fail" in entry.outcomes and not job_action.mandatory:
        LOG.info("%s skipped: an earlier action failed and this one is not mandatory", number)
        return "skipped"
    if action.action == "exec" and sched.settings.disable_exec:
        LOG.error("%s refused: exec actions are disabled on this node (--disable-exec)", number)
        return "fail"
    attempts = int(job_action.max_retries or 0) + 1
    interval = job_action.max_retries_interval
    interval = DEFAULT_RETRY_INTERVAL if interval is None else int(interval)
    for attempt in range(entry.attempt, attempts):
        entry.attempt = attempt
        try:
            if adopt:
                record = sched.executor.adopt(entry, run.cancel)
            else:
                record = sched.executor(action, run.cancel, entry, _pid_reporter(sched, snap))
            _report(sched, snap, action, record)
            LOG.info("%s succeeded", number)
            return "success"
        except Aborted:
            LOG.warning("%s aborted", number)
            return "aborted"
        except FreezerError as exc:
            LOG.error("%s failed (attempt %d of %d): %s", number, attempt + 1, attempts, exc.message)
        adopt = False
        if attempt + 1 < attempts and sched.clock.wait(run.cancel, interval):
            return "aborted"
    return "fail"


def _pid_reporter(sched: Scheduler, snap: Snapshot) -> Any:
    """Write the child's pid as ``current_pid`` (informational; failures are only logged)."""

    def report(pid: int) -> None:
        try:
            fresh = sched.source.job(snap.job_id)
            if fresh is not None and fresh.schedule.get("status") == "running":
                sched.source.update_schedule(fresh, {**fresh.schedule, "current_pid": pid})
        except (SourceError, FreezerError) as exc:
            LOG.debug("job %s: current_pid not recorded: %s", snap.job_id, exc)

    return report


def _report(sched: Scheduler, snap: Snapshot, action: Action, record: dict[str, Any]) -> None:
    """Store a backup's record (with ``job_id``), or drop the records of backups an admin action removed."""
    if action.dry_run:
        return
    try:
        if action.action == "backup":
            sched.source.store_backup({**record, "job_id": snap.job_id})
        elif action.action == "admin":
            removed = sched.source.remove_backups(record)
            LOG.info("job %s: %d backup records removed", snap.job_id, removed)
    except SourceError as exc:
        LOG.error("job %s: the action succeeded but its result could not be stored: %s", snap.job_id, exc)
