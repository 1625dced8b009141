"""When a job is due: its ``job_schedule`` turned into a pure ``next_fire`` function.

Fire times are computed from the job document (the start of its latest run)
and not from scheduler memory, so every scheduler serving a client id agrees
on them and a restarted scheduler picks up where the last one left off.

Time zone rule (one for every field): a date written with ``Z`` or an offset
means that instant; a date without one, and every calendar field
(``schedule_hour`` ...), is wall time in the scheduler's ``timezone`` option,
UTC unless configured.  Interval units may be singular or plural (``"1 day"``,
``"2 seconds"``); ``"continuous"`` runs again one second after the previous
run started (or right after it ended, when it took longer).

Windows: a run never starts before ``schedule_start_date`` nor after
``schedule_end_date``; an end date before the start date is an empty window
(the job completes without running) rather than silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from freezer_core.errors import ValidationError
from freezer_service.scheduler.cron import FIELDS, CronSpec

ONE_OFF_DELAY = timedelta(seconds=2)
"""A job without any trigger runs once, this long after a scheduler first sees it."""
CONTINUOUS = timedelta(seconds=1)
_UNITS = {"week": 604800, "day": 86400, "hour": 3600, "minute": 60, "second": 1}
_INTERVAL = re.compile(r"^\s*(\d+)\s+(week|day|hour|minute|second)s?\s*$", re.IGNORECASE)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$",
                   re.IGNORECASE)


def parse_interval(text: str) -> timedelta:
    """``"N unit"`` (singular or plural) or ``"continuous"``.

    :raises ValidationError: anything else, with the accepted forms.
    """
    if str(text).strip().lower() == "continuous":
        return CONTINUOUS
    found = _INTERVAL.match(str(text))
    if not found or int(found.group(1)) == 0:
        raise ValidationError(f"schedule_interval: {text!r} is not 'continuous' or 'N unit' with N > 0 and unit "
                              f"one of weeks, days, hours, minutes, seconds")
    return timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2).lower()])


def parse_date(text: str, zone: tzinfo, key: str = "schedule_date") -> datetime:
    """An aware datetime from ``YYYY-MM-DDThh:mm[:ss[.f]][Z|±hh:mm]``; naive means ``zone``.

    :raises ValidationError: a malformed date, naming the key.
    """
    found = _DATE.match(str(text).strip())
    if not found:
        raise ValidationError(f"{key}: {text!r} is not a date like 2024-05-01T02:00:00 (optionally with Z or +hh:mm)")
    try:
        parsed = datetime.fromisoformat(str(text).strip().replace(" ", "T").replace("z", "Z"))
    except ValueError as exc:
        raise ValidationError(f"{key}: {text!r}: {exc}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def from_epoch(value: Any) -> datetime | None:
    """An API ``time_*`` field (epoch seconds, ``-1`` or absent for never) as an aware datetime."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return datetime.fromtimestamp(value, UTC)


@dataclass(frozen=True)
class Trigger:
    """One job's schedule.  ``kind`` is ``once``, ``date``, ``interval`` or ``cron``."""

    kind: str
    zone: tzinfo = UTC
    date: datetime | None = None
    interval: timedelta | None = None
    cron: CronSpec | None = None
    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def from_schedule(cls, schedule: Mapping[str, Any], zone: tzinfo = UTC) -> Trigger:
        """Read the trigger keys of a ``job_schedule``; ``""`` and ``null`` mean unset.

        :raises ValidationError: a malformed key, named in the message.
        """
        given = {k: v for k, v in schedule.items() if v not in ("", None)}
        start = parse_date(given["schedule_start_date"], zone, "schedule_start_date") \
            if "schedule_start_date" in given else None
        end = parse_date(given["schedule_end_date"], zone, "schedule_end_date") \
            if "schedule_end_date" in given else None
        cron_values = {f: str(given[f"schedule_{f}"]) for f in FIELDS if f"schedule_{f}" in given}
        if "schedule_interval" in given:
            return cls("interval", zone, interval=parse_interval(given["schedule_interval"]), start=start, end=end)
        if cron_values:
            return cls("cron", zone, cron=CronSpec.parse(cron_values), start=start, end=end)
        if "schedule_date" in given:
            return cls("date", zone, date=parse_date(given["schedule_date"], zone), start=start, end=end)
        if start is not None:
            return cls("date", zone, date=start, start=start, end=end)
        return cls("once", zone, end=end)

    @property
    def recurring(self) -> bool:
        return self.kind in ("interval", "cron")

    def next_fire(self, last_run: datetime | None, seen: datetime) -> datetime | None:
        """When the job is next due, or ``None`` when it is finished for good.

        ``last_run`` is when the latest run of this schedule started (``None``:
        not run since it was created or restarted); ``seen`` is when this
        scheduler first saw the job in its current schedule (anchors the first
        run of jobs without a start date).  A time in the past means "due now".
        """
        if self.start is not None and self.end is not None and self.end < self.start:
            return None
        fire = self._next(last_run, seen)
        if fire is None or (self.end is not None and fire > self.end):
            return None
        return fire

    def _next(self, last_run: datetime | None, seen: datetime) -> datetime | None:
        if self.kind == "once":
            return None if last_run is not None else seen + ONE_OFF_DELAY
        if self.kind == "date":
            return None if last_run is not None else self.date
        if self.kind == "interval":
            assert self.interval is not None
            if last_run is None:
                if self.start is not None and self.start > seen:
                    return self.start
                return seen + ONE_OFF_DELAY
            if self.start is not None:
                if last_run < self.start:
                    return self.start
                periods = (last_run - self.start) // self.interval + 1
                return self.start + periods * self.interval
            return last_run + self.interval
        assert self.cron is not None
        after = last_run if last_run is not None else seen - timedelta(seconds=1)
        if self.start is not None and after < self.start - timedelta(seconds=1):
            after = self.start - timedelta(seconds=1)
        return self.cron.next_after(after, self.zone)
