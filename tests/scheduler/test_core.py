"""The scheduler's logic on an in-memory source with an injected clock: ticks, not sleeps."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freezer_core.errors import EngineError
from freezer_core.models import Action
from freezer_service.api import session_protocol
from freezer_service.scheduler import machine
from freezer_service.scheduler.core import Scheduler, Settings
from freezer_service.scheduler.runner import Entry, Journal
from freezer_service.scheduler.source import SourceError
from tests.scheduler.fakes import FakeClock, FakeExecutor, MemorySource

BACKUP = {"action": "backup", "mode": "fs", "path_to_backup": "/srv", "backup_name": "b", "storage": "local",
          "container": "/backups"}


def make(tmp_path: Path, source: MemorySource | None = None, clock: FakeClock | None = None,
         name: str = "s1", **kw: Any) -> tuple[Scheduler, MemorySource, FakeClock, FakeExecutor]:
    source = source or MemorySource()
    clock = clock or FakeClock()
    executor = FakeExecutor(clock, kw.pop("behaviour", None), kw.pop("duration", 1.0))
    sched = Scheduler(source, Settings("c1", interval=kw.pop("interval", 1.0), **kw), executor,
                      Journal(tmp_path / name), clock=clock, inline=True)
    return sched, source, clock, executor


def run_for(sched: Scheduler, clock: FakeClock, seconds: float, step: float = 0.5) -> None:
    end = clock.now().timestamp() + seconds
    while clock.now().timestamp() < end:
        sched.tick()
        clock.advance(step)


def test_registration_and_interval_job_runs_repeatedly(tmp_path: Path) -> None:
    sched, source, clock, executor = make(tmp_path)
    source.add("j1", [BACKUP], {"schedule_interval": "2 seconds"})
    sched.start({"client_id": "c1"})
    assert source.clients == [{"client_id": "c1"}]
    run_for(sched, clock, 20)
    assert 6 <= len(executor.calls) <= 10
    assert len(source.backups) == len(executor.calls)
    assert all(b["job_id"] == "j1" for b in source.backups)
    statuses = [p["status"] for _, p in source.patches]
    assert statuses[:3] == ["scheduled", "running", "running"]  # accepted, claimed, current_pid
    assert source.schedule("j1")["status"] == "scheduled" and source.schedule("j1")["result"] == "success"


def test_one_off_job_runs_once(tmp_path: Path) -> None:
    sched, source, clock, executor = make(tmp_path)
    source.add("j1", [BACKUP], {"schedule_start_date": "", "schedule_interval": ""})
    sched.start()
    sched.tick()
    clock.advance(1.9)
    sched.tick()
    assert executor.calls == []  # due 2 s after it was seen
    run_for(sched, clock, 30)
    assert len(executor.calls) == 1
    assert source.schedule("j1")["status"] == "completed"
    assert source.schedule("j1")["result"] == "success"


def test_end_date_in_the_past_completes_without_running(tmp_path: Path) -> None:
    sched, source, clock, executor = make(tmp_path)
    source.add("j1", [BACKUP], {"schedule_interval": "1 day", "schedule_end_date": "2017-08-24T01:55:00"})
    run_for(sched, clock, 10)
    assert executor.calls == []
    assert source.schedule("j1")["status"] == "completed"


def test_stop_start_and_unknown_event(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sched, source, clock, executor = make(tmp_path)
    source.add("j1", [BACKUP], {"schedule_interval": "5 seconds", "status": "stop"})
    run_for(sched, clock, 10)
    assert executor.calls == []
    source.event("j1", "start")
    run_for(sched, clock, 4)
    assert len(executor.calls) == 1
    source.event("j1", "stop")
    run_for(sched, clock, 20)
    assert len(executor.calls) == 1 and source.schedule("j1")["status"] == "stop"
    source.event("j1", "start")
    source.schedule("j1")["event"] = "bogus"
    run_for(sched, clock, 6)  # an unknown event neither spins nor blocks the job
    assert "unknown event 'bogus'" in caplog.text
    assert len(executor.calls) >= 2


def test_remove_event(tmp_path: Path) -> None:
    sched, source, clock, executor = make(tmp_path)
    source.add("j1", [BACKUP], {"schedule_interval": "1 hour"})
    run_for(sched, clock, 4)
    source.event("j1", "remove")
    run_for(sched, clock, 4)
    assert source.schedule("j1")["status"] == "removed"
    assert "j1" not in sched.tracked


def test_abort_while_running(tmp_path: Path) -> None:
    clock = FakeClock()
    source = MemorySource()

    def abort_midway(action: Action) -> None:
        source.event("j1", "abort")
        sched.check_aborts()

    sched, _, _, executor = make(tmp_path, source, clock, behaviour=abort_midway, duration=100)
    source.add("j1", [BACKUP, {**BACKUP, "backup_name": "second"}], {"schedule_interval": "1 hour"})
    run_for(sched, clock, 4)
    assert [c[1] for c in executor.calls] == ["b"]
    assert source.schedule("j1")["result"] == "aborted"
    assert source.schedule("j1")["status"] == "completed"
    assert source.backups == []


def test_failure_skips_to_mandatory_actions_and_retries(tmp_path: Path) -> None:
    def fail_first(action: Action) -> None:
        if action.backup_name == "first":
            raise EngineError("tar exited with 2")

    sched, source, clock, executor = make(tmp_path, behaviour=fail_first)
    source.add("j1", [{**BACKUP, "backup_name": "first"}, {**BACKUP, "backup_name": "optional"},
                      {**BACKUP, "backup_name": "cleanup"}])
    source.docs["j1"]["job_actions"][0].update(max_retries=2, max_retries_interval=10)
    source.docs["j1"]["job_actions"][2]["mandatory"] = True
    run_for(sched, clock, 5)
    names = [c[1] for c in executor.calls]
    assert names == ["first", "first", "first", "cleanup"]
    times = [c[2] for c in executor.calls]
    assert (times[1] - times[0]).total_seconds() >= 10
    assert source.schedule("j1")["result"] == "fail" and source.schedule("j1")["status"] == "completed"


def test_disable_exec_and_capabilities(tmp_path: Path) -> None:
    sched, source, clock, executor = make(tmp_path, disable_exec=True,
                                          capabilities={"supported_storages": ["local"]})
    source.add("exec", [{"action": "exec", "command": "true", "storage": "local"}])
    source.add("swift", [{**BACKUP, "storage": "swift"}])
    run_for(sched, clock, 5)
    assert executor.calls == []
    assert source.schedule("exec")["result"] == "fail"
    assert source.schedule("swift").get("status") in (None, "")


def test_admin_action_removes_api_records(tmp_path: Path) -> None:
    sched, source, clock, executor = make(tmp_path)
    source.backups = [{"backup_name": "b", "time_stamp": 100}, {"backup_name": "b", "time_stamp": 200}]
    executor.behaviour = None
    orig = executor.__call__

    def admin_record(action: Action, cancel: Any, entry: Entry, started: Any = None) -> dict[str, Any]:
        record = orig(action, cancel, entry, started)
        return {**record, "removed_backups": [{"level": 0, "time_stamp": 100}]}

    sched.executor = admin_record  # type: ignore[assignment]
    source.add("j1", [{**BACKUP, "action": "admin", "remove_older_than": 1}])
    run_for(sched, clock, 5)
    assert source.backups == [{"backup_name": "b", "time_stamp": 200}]


def test_two_schedulers_one_client_id_run_each_job_once_per_trigger(tmp_path: Path) -> None:
    clock = FakeClock()
    source = MemorySource()
    for i in range(20):
        source.add(f"once{i}", [BACKUP]) if i % 2 else source.add(f"every{i}", [BACKUP],
                                                                  {"schedule_interval": "10 seconds"})
    a, _, _, ex_a = make(tmp_path, source, clock, "a", duration=0)
    b, _, _, ex_b = make(tmp_path, source, clock, "b", duration=0)
    order = random.Random(7)
    for _ in range(120):  # 60 s; who looks first changes from tick to tick
        first, second = (a, b) if order.random() < 0.5 else (b, a)
        first.tick()
        second.tick()
        clock.advance(0.5)
    calls = ex_a.calls + ex_b.calls
    assert ex_a.calls and ex_b.calls
    per_job: dict[str, list[Any]] = {}
    for job_id, _, at in calls:
        per_job.setdefault(job_id, []).append(at)
    for i in range(1, 20, 2):
        assert len(per_job[f"once{i}"]) == 1
    for i in range(0, 20, 2):
        runs = sorted(per_job[f"every{i}"])
        assert 5 <= len(runs) <= 6
        assert all((y - x).total_seconds() >= 10 for x, y in zip(runs, runs[1:], strict=False))


def test_crash_recovery_resumes_without_repeating(tmp_path: Path) -> None:
    """A run left in the journal by a dead scheduler is adopted: not lost, not run again."""
    sched, source, clock, executor = make(tmp_path)
    source.add("j1", [BACKUP, {**BACKUP, "backup_name": "second"}], {"schedule_interval": "1 hour"})
    started = int(clock.now().timestamp())
    source.docs["j1"]["job_schedule"].update(status="running", time_started=started)
    journal = Journal(tmp_path / "s1")
    journal.save(Entry("j1", started, index=0, pid=999999, pid_start="x", result_path="/nonexistent"))
    sched.start()
    assert [c[1] for c in executor.calls] == ["adopted", "second"]
    assert source.schedule("j1")["status"] == "scheduled"
    assert not list((tmp_path / "s1").glob("*.json"))
    run_for(sched, clock, 30)
    assert len(executor.calls) == 2  # next run is an hour after the adopted one started


def test_shutdown_abort_keeps_job_scheduled(tmp_path: Path) -> None:
    sched, source, clock, executor = make(tmp_path)
    source.add("j1", [BACKUP])
    run = machine.finish({"status": "running", "time_started": 5}, 10, "aborted", False, interrupted=True)
    assert run["status"] == "scheduled" and run["time_started"] == -1 and run["result"] == "aborted"


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["", "stop", "scheduled", "running", "completed", "removed", "aborting"]),
       st.sampled_from(["", "start", "stop", "abort", "remove", "bogus"]))
def test_state_machine_is_total_and_idempotent(status: str, event: str) -> None:
    schedule = {"status": status, "event": event, "schedule_interval": "1 day", "time_started": 7}
    decision = machine.decide("j", schedule)
    if decision.schedule is not None:
        assert decision.schedule["schedule_interval"] == "1 day"  # never loses the trigger
        assert decision.schedule.get("event") == ""
        again = machine.decide("j", decision.schedule)
        assert again.schedule is None  # applying it twice changes nothing more
        assert again.armed == decision.armed
    if status in ("running", "completed", "removed", "aborting"):
        assert decision == machine.Decision()
    for more in (True, False):
        done = machine.finish(schedule, 9, "success", more)
        assert done["status"] in ("scheduled", "completed", "stop", "removed")
        assert done["event"] == "" and done["time_ended"] == 9


class _LateForTheSession(MemorySource):
    """A session whose last round this job missed: a stale tag is out of sync, the current one starts a round."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[int] = []

    def session_start(self, session_id: str, job_id: str, tag: int) -> tuple[str, int]:
        self.asked.append(tag)
        return ("out-of-sync", 5) if tag < 5 else ("success", tag + 1)


def test_a_job_that_missed_a_session_round_catches_up(tmp_path: Path) -> None:
    source = _LateForTheSession()
    sched, source, clock, executor = make(tmp_path, source=source)
    source.add("j1", [BACKUP], {}, session_id="s1", session_tag=2)
    sched.start()
    run_for(sched, clock, 10)
    assert source.asked[:2] == [2, 5]  # the stale tag once, then the session's own
    assert len(executor.calls) == 1
    assert source.schedule("j1")["result"] == "success"
    assert source.docs["j1"]["session_tag"] == 6


class _SharedSession(MemorySource):
    """The API's real session rounds (``session_protocol``) on one session document, timed by the test clock."""

    def __init__(self, clock: FakeClock, jobs: list[str], hold_off: int = 30) -> None:
        super().__init__()
        self.clock = clock
        self.session: dict[str, Any] = {"session_tag": 0, "hold_off": hold_off, "status": "active", "result": None,
                                        "time_start": -1, "time_end": -1,
                                        "jobs": {j: {"status": "", "result": ""} for j in jobs}}
        self.rounds: dict[int, str] = {}
        self.refused: list[str] = []

    def _moment(self) -> int:
        return int(self.clock.now().timestamp())

    def session_start(self, session_id: str, job_id: str, tag: int) -> tuple[str, int]:
        with self.lock:
            answer = session_protocol.start(self.session, job_id, tag, self._moment())
            return answer, self.session["session_tag"]

    def session_end(self, session_id: str, job_id: str, tag: int, result: str) -> None:
        with self.lock:
            try:
                session_protocol.end(self.session, job_id, tag, result, self._moment())
            except session_protocol.SessionError as exc:
                self.refused.append(str(exc))
                raise SourceError(str(exc)) from None
            if self.session["status"] == "completed":
                self.rounds[self.session["session_tag"]] = self.session["result"]


def test_two_nodes_keep_session_rounds_apart(tmp_path: Path) -> None:
    """Two schedulers, one job each in a session, three interval rounds; node 2 fails round 2 only."""
    clock = FakeClock()
    source = _SharedSession(clock, ["j1", "j2"])
    schedule = {"schedule_interval": "10 minutes", "schedule_start_date": "2024-05-01T12:00:10Z"}
    source.add("j1", [BACKUP], dict(schedule), client_id="c1", session_id="s", session_tag=0)
    source.add("j2", [{**BACKUP, "backup_name": "two"}], dict(schedule), client_id="c2", session_id="s",
               session_tag=0)
    runs: list[str] = []

    def fail_round_two(action: Action) -> None:
        runs.append(str(action.backup_name))
        if action.backup_name == "two" and source.session["session_tag"] == 2:
            raise EngineError("disk full")

    nodes = []
    for client in ("c1", "c2"):
        executor = FakeExecutor(clock, fail_round_two, duration=5)
        nodes.append(Scheduler(source, Settings(client, interval=5), executor, Journal(tmp_path / client),
                               clock=clock, inline=True))
    for _ in range(int(25 * 60 / 5)):  # 25 minutes: rounds at :00:10, :10:10, :20:10
        for node in nodes:
            node.tick()
        clock.advance(5)
    assert source.rounds == {1: "success", 2: "fail", 3: "success"}
    assert runs.count("b") == 3 and runs.count("two") == 3
    assert source.refused == []
    assert source.docs["j1"]["session_tag"] == source.docs["j2"]["session_tag"] == 3
