"""Trigger logic with explicit times: no test sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freezer_core.errors import ValidationError
from freezer_service.scheduler.triggers import Trigger, parse_interval

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("text,seconds", [("1 day", 86400), ("2 days", 172800), ("1 week", 604800),
                                          ("30 minutes", 1800), ("2 seconds", 2), ("1 hour", 3600),
                                          ("continuous", 1), ("3  Hours", 10800)])
def test_interval_units_singular_and_plural(text: str, seconds: int) -> None:
    assert parse_interval(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["weekly", "0 days", "1 fortnight", "", "-1 days", "1.5 hours"])
def test_bad_interval_is_one_clear_error(text: str) -> None:
    with pytest.raises(ValidationError, match="schedule_interval"):
        parse_interval(text)


def test_one_off_runs_once_two_seconds_after_seen() -> None:
    trigger = Trigger.from_schedule({"schedule_start_date": "", "schedule_interval": ""})
    assert trigger.kind == "once"
    assert trigger.next_fire(None, T0) == T0 + timedelta(seconds=2)
    assert trigger.next_fire(T0, T0) is None


def test_interval_without_start_follows_last_run() -> None:
    trigger = Trigger.from_schedule({"schedule_interval": "2 seconds"})
    assert trigger.next_fire(None, T0) == T0 + timedelta(seconds=2)
    assert trigger.next_fire(T0 + timedelta(seconds=7), T0) == T0 + timedelta(seconds=9)


def test_interval_with_start_keeps_its_phase() -> None:
    trigger = Trigger.from_schedule({"schedule_interval": "30 minutes", "schedule_start_date": "2024-05-01T13:00:00"})
    assert trigger.next_fire(None, T0) == T0 + timedelta(hours=1)
    late_run = T0 + timedelta(hours=1, minutes=5)
    assert trigger.next_fire(late_run, T0) == T0 + timedelta(hours=1, minutes=30)


def test_start_date_in_the_past_runs_soon() -> None:
    trigger = Trigger.from_schedule({"schedule_interval": "1 day", "schedule_start_date": "2017-08-24T01:00:00"})
    assert trigger.next_fire(None, T0) == T0 + timedelta(seconds=2)


def test_end_date_in_the_past_never_fires() -> None:
    for schedule in ({"schedule_interval": "1 day", "schedule_end_date": "2017-08-24T01:55:00"},
                     {"schedule_end_date": "2020-01-01T00:00:00Z"},
                     {"schedule_hour": "3", "schedule_end_date": "2024-05-01T11:00:00"}):
        assert Trigger.from_schedule(schedule).next_fire(None, T0) is None


def test_end_date_stops_a_recurring_job() -> None:
    trigger = Trigger.from_schedule({"schedule_interval": "1 hour", "schedule_end_date": "2024-05-01T14:30:00"})
    assert trigger.next_fire(T0 + timedelta(hours=1), T0) == T0 + timedelta(hours=2)
    assert trigger.next_fire(T0 + timedelta(hours=2), T0) is None


def test_end_before_start_is_an_empty_window() -> None:
    trigger = Trigger.from_schedule({"schedule_interval": "1 hour", "schedule_start_date": "2024-06-01T00:00:00",
                                     "schedule_end_date": "2024-05-01T00:00:00"})
    assert trigger.next_fire(None, T0) is None


def test_schedule_date_runs_once_at_that_time() -> None:
    trigger = Trigger.from_schedule({"schedule_date": "2024-05-01T18:00:00+02:00"})
    assert trigger.next_fire(None, T0) == datetime(2024, 5, 1, 16, 0, tzinfo=UTC)
    assert trigger.next_fire(T0, T0) is None


def test_naive_dates_and_cron_fields_use_the_configured_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    trigger = Trigger.from_schedule({"schedule_date": "2024-05-01T18:00:00"}, paris)
    assert trigger.next_fire(None, T0) == datetime(2024, 5, 1, 16, 0, tzinfo=UTC)
    cron = Trigger.from_schedule({"schedule_hour": "2"}, paris)
    assert cron.next_fire(None, T0) == datetime(2024, 5, 2, 0, 0, tzinfo=UTC)


def test_cron_hour_defaults_smaller_fields_to_zero() -> None:
    trigger = Trigger.from_schedule({"schedule_hour": "2"})
    first = trigger.next_fire(None, T0)
    assert first == datetime(2024, 5, 2, 2, 0, 0, tzinfo=UTC)
    assert trigger.next_fire(first, T0) == datetime(2024, 5, 3, 2, 0, 0, tzinfo=UTC)


def test_cron_day_of_week_names_and_ranges() -> None:
    trigger = Trigger.from_schedule({"schedule_day_of_week": "sat,sun", "schedule_hour": "1",
                                     "schedule_minute": "*/30"})
    fires = []
    last = None
    for _ in range(5):
        last = trigger.next_fire(last, T0)
        assert last is not None
        fires.append(last)
    # 2024-05-01 is a Wednesday
    assert [f.strftime("%a %H:%M") for f in fires] == ["Sat 01:00", "Sat 01:30", "Sun 01:00", "Sun 01:30",
                                                       "Sat 01:00"]


def test_cron_month_last_day_and_year() -> None:
    assert Trigger.from_schedule({"schedule_month": "feb", "schedule_day": "last"}).next_fire(None, T0) == \
        datetime(2025, 2, 28, tzinfo=UTC)
    assert Trigger.from_schedule({"schedule_year": "2020"}).next_fire(None, T0) is None


def test_cron_missed_fires_coalesce_into_one_run() -> None:
    trigger = Trigger.from_schedule({"schedule_minute": "*/5"})
    last = T0 - timedelta(days=3)
    first = trigger.next_fire(last, T0)
    assert first is not None and first < T0  # due now: one run, not 864
    assert trigger.next_fire(T0, T0) == T0 + timedelta(minutes=5)


@pytest.mark.parametrize("schedule", [{"schedule_hour": "25"}, {"schedule_minute": "a"},
                                      {"schedule_day_of_week": "5-1"}, {"schedule_date": "tomorrow"},
                                      {"schedule_second": "*/0"}])
def test_bad_schedule_fields_name_the_field(schedule: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="schedule_"):
        Trigger.from_schedule(schedule)


@given(st.integers(1, 100000), st.integers(0, 10**7), st.integers(0, 10**7))
def test_interval_fires_strictly_after_the_last_run(step: int, seen_s: int, last_s: int) -> None:
    trigger = Trigger.from_schedule({"schedule_interval": f"{step} seconds"})
    seen, last = T0 + timedelta(seconds=seen_s), T0 + timedelta(seconds=last_s)
    fire = trigger.next_fire(last, seen)
    assert fire == last + timedelta(seconds=step)


@given(st.sampled_from(["*/7", "0,15,45", "1-5", "10-50/10"]), st.sampled_from(["*", "3", "1-4"]),
       st.integers(0, 10**8))
def test_cron_next_is_after_and_matches(minute: str, hour: str, offset: int) -> None:
    trigger = Trigger.from_schedule({"schedule_minute": minute, "schedule_hour": hour})
    after = T0 + timedelta(seconds=offset)
    fire = trigger.next_fire(after, after)
    assert fire is not None and fire > after and fire.second == 0
    assert trigger.cron is not None
    minutes, hours = trigger.cron.fields["minute"], trigger.cron.fields["hour"]
    assert minutes is None or fire.minute in minutes
    assert hours is None or fire.hour in hours
    # nothing matches in between
    assert trigger.cron.next_after(after, UTC) == fire
