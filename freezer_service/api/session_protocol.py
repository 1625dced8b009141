"""The session protocol: jobs on several nodes run together in numbered rounds.

A session document keeps one *round* at a time: ``session_tag`` is its
number and ``jobs`` holds each job's part in it (``status`` ``""`` = not
started yet, ``running``, ``completed`` with its ``result``).  The rules are
upstream Freezer's start/end answers (docs/scheduler.md, "Sessions") plus
what keeps one round's result from leaking into the next:

* the job that opens a new round resets every other job's entry to "not
  started", so a round's result comes only from that round's ``end`` reports;
* an ``end`` must carry the current round's tag and come from a job that
  started that round; an ``end`` for an earlier round (a job that finished
  after another job had opened the next one) is refused with a
  :class:`SessionError` and changes nothing;
* a job that already ended the round cannot join it again (``hold-off``).

The functions mutate the document in place; the resource applies them inside
the backend's serialised update, and ``moment`` is passed in so tests drive
the clock.
"""

from __future__ import annotations

from typing import Any

FALLBACK_HOLD_OFF = 60
RESULTS = ("success", "fail", "aborted")
NOT_STARTED: dict[str, Any] = {"status": "", "result": "", "time_started": -1, "time_ended": -1}


class SessionError(Exception):
    """A request the session refuses: ``status`` is the HTTP status, the message says why in one line."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def start(doc: dict[str, Any], job_id: Any, current_tag: Any, moment: int) -> str:
    """A job asks to start with the tag it knows: ``success``, ``hold-off`` or ``out-of-sync``."""
    job = _entry(doc, job_id)
    tag, session_tag = _tag(current_tag), int(doc.get("session_tag") or 0)
    if tag > session_tag:
        raise SessionError(400, f"requested tag value too high. Session Tag: {session_tag} Job Tag: {tag}")
    time_start = doc.get("time_start")
    time_start = -1 if time_start is None else int(time_start)
    hold_off = int(doc.get("hold_off") or FALLBACK_HOLD_OFF)
    if time_start >= 0 and moment - time_start <= hold_off:
        if tag < session_tag and job.get("status") != "completed" and doc.get("status") != "completed":
            job.update(status="running", result="", time_started=moment, time_ended=-1)
            return "success"
        return "hold-off"  # this job opened the round or already ran in it, or the round is over: wait
    if tag != session_tag:
        return "out-of-sync"
    doc["jobs"] = {j: {**(e if isinstance(e, dict) else {}), **NOT_STARTED} for j, e in doc["jobs"].items()}
    doc["jobs"][job_id].update(status="running", time_started=moment)
    doc.update(session_tag=session_tag + 1, time_start=moment, time_end=-1, status="running", result="")
    return "success"


def end(doc: dict[str, Any], job_id: Any, current_tag: Any, result: Any, moment: int) -> str:
    """A job reports its result for the round it started; the round completes when every job has ended."""
    job = _entry(doc, job_id)
    session_tag = int(doc.get("session_tag") or 0)
    tag = session_tag if current_tag is None else _tag(current_tag)
    if result not in RESULTS:
        raise SessionError(400, f"result must be one of {', '.join(RESULTS)}, not {result!r}")
    if tag > session_tag:
        raise SessionError(400, f"requested tag value too high. Session Tag: {session_tag} Job Tag: {tag}")
    if tag < session_tag:
        raise SessionError(409, f"end of round {tag} ignored: session is at round {session_tag}")
    if job.get("status") == "completed":
        return "success"  # a repeated report: the first one counts
    if job.get("status") != "running":
        raise SessionError(409, f"end ignored: job {job_id} did not start round {session_tag}")
    job.update(status="completed", result=result, time_ended=moment)
    settle(doc, moment)
    return "success"


def settle(doc: dict[str, Any], moment: int) -> None:
    """Complete a running round once every job in it has ended: ``success`` only if every job succeeded."""
    jobs = [j if isinstance(j, dict) else {} for j in (doc.get("jobs") or {}).values()]
    if doc.get("status") != "running" or not jobs or any(j.get("status") != "completed" for j in jobs):
        return
    overall = "success" if all(j.get("result") == "success" for j in jobs) else "fail"
    doc.update(status="completed", result=overall, time_end=moment)


def _tag(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SessionError(400, f"current_tag must be an integer, not {value!r}") from None


def _entry(doc: dict[str, Any], job_id: Any) -> dict[str, Any]:
    jobs = doc.get("jobs")
    if not isinstance(jobs, dict) or not isinstance(job_id, str) or not isinstance(jobs.get(job_id), dict):
        raise SessionError(400, "job_id not found in session")
    entry: dict[str, Any] = jobs[job_id]
    return entry
