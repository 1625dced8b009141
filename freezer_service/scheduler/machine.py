"""The job state machine, as pure functions of a ``job_schedule``.

Statuses: ``stop`` → ``scheduled`` → ``running`` → ``completed`` | ``removed``
(back to ``scheduled`` after each run of a recurring job); results
``success``, ``fail``, ``aborted``.  Events are requests posted through the
API (``start``, ``stop``, ``abort``, ``remove``); the scheduler acts on one
and clears it, so posting it again is a new request.  An event it does not
know is logged once and ignored (upstream's scheduler loops forever on it).

Every function returns the *whole* new schedule: the API replaces
``job_schedule`` wholesale, so updates are idempotent and never lose the
trigger keys.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

LOG = logging.getLogger("freezer.scheduler")
EVENTS = ("start", "stop", "abort", "remove")
_warned: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Decision:
    """What to do with a job seen by a poll."""

    schedule: dict[str, Any] | None = None
    """The schedule to write, or ``None`` when nothing changes."""
    armed: bool = False
    """True when the job waits for its trigger."""
    restarted: bool = False
    """True when the job's schedule (re)starts: forget when it was first seen."""


def event_of(job_id: str, schedule: dict[str, Any]) -> str:
    """The pending event, ``""`` for none or an unknown one (logged once per job and event)."""
    event = str(schedule.get("event") or "")
    if event and event not in EVENTS:
        if (job_id, event) not in _warned:
            _warned.add((job_id, event))
            LOG.warning("job %s: unknown event %r ignored (known: %s)", job_id, event, ", ".join(EVENTS))
        return ""
    return event


def decide(job_id: str, schedule: dict[str, Any]) -> Decision:
    """The transition for a job this scheduler is not running."""
    status = str(schedule.get("status") or "")
    event = event_of(job_id, schedule)
    if status not in ("", "stop", "scheduled"):
        return Decision()  # running elsewhere, aborting, completed, removed: not ours to change
    if event == "remove":
        return Decision({**schedule, "status": "removed", "event": ""})
    if status == "":
        if event == "stop" or event == "abort":
            return Decision({**schedule, "status": "stop", "event": ""})
        return Decision(_restart(schedule), armed=True, restarted=True)
    if status == "stop":
        if event == "start":
            return Decision(_restart(schedule), armed=True, restarted=True)
        return Decision({**schedule, "event": ""} if event else None)
    if event in ("stop", "abort"):
        return Decision({**schedule, "status": "stop", "event": ""})
    return Decision({**schedule, "event": ""} if event else None, armed=True)


def _restart(schedule: dict[str, Any]) -> dict[str, Any]:
    """Status ``scheduled`` with the run history of the previous schedule cleared."""
    return {**schedule, "status": "scheduled", "event": "", "time_started": -1, "time_ended": -1}


def claim(schedule: dict[str, Any], now: int, pid: int) -> dict[str, Any]:
    """The schedule that marks a run as started (written with the version it was decided on)."""
    return {**schedule, "status": "running", "time_started": now, "time_ended": -1, "current_pid": pid}


def finish(schedule: dict[str, Any], now: int, result: str, more: bool, *,
           interrupted: bool = False) -> dict[str, Any]:
    """The schedule after a run: ``result``, and the status the pending event or trigger calls for.

    ``more`` says whether the trigger fires again.  A run aborted on request
    completes the job; a ``stop`` posted meanwhile stops it; ``remove``
    removes it.  A run ``interrupted`` by the scheduler shutting down is
    reported ``aborted`` but stays scheduled, and a one-off job runs again
    when a scheduler is back: nothing of the interrupted run was kept.
    """
    event = event_of("", schedule)
    done = {**schedule, "result": result, "time_ended": now, "event": ""}
    done.pop("current_pid", None)
    if event == "remove":
        return {**done, "status": "removed"}
    if interrupted and event != "abort":
        return {**done, "status": "scheduled", **({} if more else {"time_started": -1, "time_ended": -1})}
    if result == "aborted" or event == "abort":
        return {**done, "status": "completed", "result": "aborted"}
    if event == "stop":
        return {**done, "status": "stop"}
    return {**done, "status": "scheduled" if more else "completed"}
