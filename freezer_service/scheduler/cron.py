"""Calendar triggers: the ``schedule_year`` ... ``schedule_second`` fields of a job.

Job documents spell calendar schedules as separate fields with the expression
syntax of a cron-like trigger (``"*"``, ``"*/15"``, ``"1-5"``, ``"mon-fri"``,
``"0,30"``, ``"1-10/2"``).  The matcher is ours rather than a dependency:
croniter has no year, ISO-week or second fields, and APScheduler is far too
heavy for one function.  The semantics are the ones job authors expect from
Freezer:

* fields *more* significant than the most specific field given are ``*``;
  fields *less* significant default to their minimum, so ``schedule_hour: "2"``
  fires once a day at 02:00:00, not every second of that hour (``week`` and
  ``day_of_week`` stay ``*``, so ``schedule_month: "6"`` fires on June 1st);
* ``day_of_week`` counts from ``0 = mon`` to ``6 = sun`` and accepts names;
* ``month`` accepts ``jan`` ... ``dec``; ``week`` is the ISO week (1-53);
* ``day`` also accepts ``last`` (the last day of the month).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from freezer_core.errors import ValidationError

FIELDS = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
_RANGES = {"year": (1970, 9999), "month": (1, 12), "day": (1, 31), "week": (1, 53), "day_of_week": (0, 6),
           "hour": (0, 23), "minute": (0, 59), "second": (0, 59)}
_NAMES = {
    "month": {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m},
    "day_of_week": {d.lower(): i for i, d in enumerate(calendar.day_abbr)},
}
_SEARCH_DAYS = 366 * 8
"""How far ahead a next fire time is searched (covers leap days and ISO week 53)."""


def _value(name: str, text: str) -> int:
    text = text.strip().lower()
    if text in _NAMES.get(name, {}):
        return _NAMES[name][text]
    try:
        number = int(text)
    except ValueError:
        raise ValidationError(f"schedule_{name}: {text!r} is not a number") from None
    low, high = _RANGES[name]
    if not low <= number <= high:
        raise ValidationError(f"schedule_{name}: {number} is outside {low}-{high}")
    return number


def parse_field(name: str, expression: str) -> frozenset[int] | None:
    """The values an expression allows; ``None`` means any.  ``day`` may hold -1 for ``last``.

    :raises ValidationError: a malformed expression, with the field named.
    """
    low, high = _RANGES[name]
    allowed: set[int] = set()
    for part in str(expression).split(","):
        part = part.strip().lower()
        if not part:
            raise ValidationError(f"schedule_{name}: empty element in {expression!r}")
        if name == "day" and part == "last":
            allowed.add(-1)
            continue
        span, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValidationError(f"schedule_{name}: bad step in {part!r}")
            step = int(step_text)
        if span in ("*", "?"):
            if step == 1 and len(str(expression).split(",")) == 1:
                return None
            first, last = low, high
        elif "-" in span:
            a, _, b = span.partition("-")
            first, last = _value(name, a), _value(name, b)
            if first > last:
                raise ValidationError(f"schedule_{name}: range {part!r} goes backwards")
        else:
            first = _value(name, span)
            last = first if not step_text else high
        allowed.update(range(first, last + 1, step))
    return frozenset(allowed)


@dataclass(frozen=True)
class CronSpec:
    """A parsed calendar schedule; :meth:`next_after` gives its fire times."""

    fields: dict[str, frozenset[int] | None]

    @classmethod
    def parse(cls, values: dict[str, str]) -> CronSpec:
        """Build from ``{"hour": "2", ...}`` (keys without the ``schedule_`` prefix).

        :raises ValidationError: no field, or a malformed one.
        """
        given = [f for f in FIELDS if values.get(f) not in (None, "")]
        if not given:
            raise ValidationError("a calendar schedule needs at least one schedule_<field>")
        last_given = max(FIELDS.index(f) for f in given)
        parsed: dict[str, frozenset[int] | None] = {}
        for index, name in enumerate(FIELDS):
            if name in given:
                parsed[name] = parse_field(name, str(values[name]))
            elif index > last_given and name not in ("week", "day_of_week"):
                parsed[name] = frozenset({_RANGES[name][0]})
            else:
                parsed[name] = None
        return cls(parsed)

    def _day_ok(self, day: date) -> bool:
        f = self.fields
        if f["year"] is not None and day.year not in f["year"]:
            return False
        if f["month"] is not None and day.month not in f["month"]:
            return False
        if f["day"] is not None:
            last = calendar.monthrange(day.year, day.month)[1]
            if day.day not in f["day"] and not (-1 in f["day"] and day.day == last):
                return False
        if f["week"] is not None and day.isocalendar()[1] not in f["week"]:
            return False
        return f["day_of_week"] is None or day.weekday() in f["day_of_week"]

    def _times(self, name: str) -> list[int]:
        allowed = self.fields[name]
        low, high = _RANGES[name]
        return sorted(allowed) if allowed is not None else list(range(low, high + 1))

    def _first_time(self, at_least: time | None) -> time | None:
        for h in self._times("hour"):
            if at_least is not None and h < at_least.hour:
                continue
            for m in self._times("minute"):
                if at_least is not None and h == at_least.hour and m < at_least.minute:
                    continue
                for s in self._times("second"):
                    candidate = time(h, m, s)
                    if at_least is None or candidate >= at_least:
                        return candidate
        return None

    def next_after(self, after: datetime, zone: tzinfo) -> datetime | None:
        """The first fire time strictly after ``after`` (aware), read as wall time in ``zone``.

        Returns an aware datetime, or ``None`` when the schedule never fires
        again (for instance a ``schedule_year`` in the past).
        """
        local = (after.astimezone(zone) + timedelta(seconds=1)).replace(microsecond=0, tzinfo=None)
        day = local.date()
        floor: time | None = local.time()
        for _ in range(_SEARCH_DAYS):
            if self._day_ok(day):
                found = self._first_time(floor)
                if found is not None:
                    fire = datetime.combine(day, found).replace(tzinfo=zone)
                    if fire > after:
                        return fire
            floor = None
            try:
                day += timedelta(days=1)
            except OverflowError:
                return None
        return None
