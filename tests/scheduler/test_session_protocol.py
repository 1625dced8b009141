"""The session rounds (``freezer_service.api.session_protocol``) driven by start/end events from several jobs.

The state machine plays jobs that ask to start with the tag they know (or a
stale, or a too-high one), end with any result and any tag, while the clock
moves by less or more than the hold-off.  It records what the session
*accepted* and checks, after every step, that a round's result comes only
from that round's ends, that tags only grow, and that a job cannot end a
round it did not start.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from freezer_service.api.session_protocol import SessionError, end, start

JOBS = ("a", "b", "c")
HOLD_OFF = 30


def new_session(jobs: tuple[str, ...] = JOBS) -> dict[str, Any]:
    return {"session_tag": 0, "hold_off": HOLD_OFF, "status": "active", "result": None, "time_start": -1,
            "time_end": -1, "jobs": {j: {"client_id": f"node-{j}", "status": "", "result": ""} for j in jobs}}


class Rounds(RuleBasedStateMachine):
    @initialize(jobs=st.sampled_from([JOBS[:1], JOBS[:2], JOBS]))
    def setup(self, jobs: tuple[str, ...]) -> None:
        self.doc = new_session(jobs)
        self.jobs = jobs
        self.clock = 1_000_000
        self.known = dict.fromkeys(jobs, 0)  # the tag each job last heard from the session
        self.started: dict[int, set[str]] = {}  # round -> jobs whose start was accepted for it
        self.ended: dict[int, dict[str, str]] = {}  # round -> job -> result of its accepted end
        self.tags = [0]

    @rule(seconds=st.sampled_from([0, 1, HOLD_OFF, HOLD_OFF + 1, 600]))
    def time_passes(self, seconds: int) -> None:
        self.clock += seconds

    @rule(data=st.data())
    def job_starts(self, data: st.DataObject) -> None:
        job = data.draw(st.sampled_from(self.jobs))
        s = self.doc["session_tag"]
        tag = data.draw(st.sampled_from(sorted({self.known[job], s, s + 1, max(s - 2, 0)})))
        before = copy.deepcopy(self.doc)
        try:
            answer = start(self.doc, job, tag, self.clock)
        except SessionError as exc:
            assert tag > s and exc.status == 400 and self.doc == before
            return
        new = self.doc["session_tag"]
        if answer != "success":
            assert answer in ("hold-off", "out-of-sync") and self.doc == before
            return
        self.known[job] = new
        if new == s + 1:  # this job opened a round: only after the hold-off, only from the current tag
            assert tag == s
            assert before["time_start"] < 0 or self.clock - before["time_start"] > HOLD_OFF
            assert all(e["status"] == "" for j, e in self.doc["jobs"].items() if j != job)
        else:  # it joined the open round: within the hold-off, from an earlier tag, not after ending it
            assert new == s and tag < s and self.clock - before["time_start"] <= HOLD_OFF
            assert job not in self.ended.get(new, {})
        self.started.setdefault(new, set()).add(job)

    @rule(data=st.data(), result=st.sampled_from(["success", "success", "fail", "aborted"]))
    def job_ends(self, data: st.DataObject, result: str) -> None:
        job = data.draw(st.sampled_from(self.jobs))
        s = self.doc["session_tag"]
        tag = data.draw(st.sampled_from(sorted({self.known[job], s, s - 1, s + 1})))
        before = copy.deepcopy(self.doc)
        try:
            end(self.doc, job, tag, result, self.clock)
        except SessionError as exc:
            assert self.doc == before
            if tag > s:
                assert exc.status == 400
            else:  # an earlier round's end, or a job that did not start this round
                assert exc.status == 409
                assert tag < s or job not in self.started.get(s, set())
            return
        assert tag == s and job in self.started.get(s, set())
        if job in self.ended.get(s, {}):
            assert self.doc == before  # a repeated end changes nothing
        else:
            self.ended.setdefault(s, {})[job] = result

    @precondition(lambda self: len(self.jobs) > 1)
    @rule()
    def stale_end_after_a_new_round(self) -> None:
        """The classic late report: a job ends round n after another job has opened round n+1."""
        s = self.doc["session_tag"]
        if s == 0:
            return
        before = copy.deepcopy(self.doc)
        with pytest.raises(SessionError) as refused:
            end(self.doc, self.jobs[0], s - 1, "fail", self.clock)
        assert refused.value.status == 409 and self.doc == before

    @invariant()
    def tags_only_grow_one_at_a_time(self) -> None:
        tag = self.doc["session_tag"]
        assert tag in (self.tags[-1], self.tags[-1] + 1)
        self.tags.append(tag)

    @invariant()
    def entries_belong_to_the_current_round(self) -> None:
        s = self.doc["session_tag"]
        for job, entry in self.doc["jobs"].items():
            if entry["status"] == "running":
                assert job in self.started.get(s, set()) and job not in self.ended.get(s, {})
            elif entry["status"] == "completed":
                assert entry["result"] == self.ended.get(s, {}).get(job)
            else:
                assert entry["status"] == "" and job not in self.ended.get(s, {})

    @invariant()
    def result_comes_from_this_round_only(self) -> None:
        s, ends = self.doc["session_tag"], self.ended.get(self.doc["session_tag"], {})
        if self.doc["status"] == "completed":
            assert set(ends) == set(self.jobs)  # every job ended *this* round
            expected = "success" if all(r == "success" for r in ends.values()) else "fail"
            assert self.doc["result"] == expected
        elif s > 0:
            assert self.doc["status"] == "running" and self.doc["result"] == ""
            assert set(ends) != set(self.jobs)


Rounds.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
test_session_rounds = Rounds.TestCase


def test_second_round_does_not_report_the_first_rounds_result() -> None:
    """The bug this protocol closes: b's round-1 success must not complete round 2 when a ends it first."""
    doc, t = new_session(("a", "b")), 1000
    assert start(doc, "a", 0, t) == "success" and start(doc, "b", 0, t + 1) == "success"
    end(doc, "a", 1, "success", t + 2)
    end(doc, "b", 1, "success", t + 3)
    assert (doc["status"], doc["result"], doc["session_tag"]) == ("completed", "success", 1)
    t += HOLD_OFF + 10
    assert start(doc, "a", 1, t) == "success"
    assert doc["jobs"]["b"]["status"] == "" and (doc["status"], doc["result"]) == ("running", "")
    end(doc, "a", 2, "success", t + 1)
    assert (doc["status"], doc["result"]) == ("running", "")  # b has not run round 2 yet
    assert start(doc, "b", 1, t + 2) == "success"
    end(doc, "b", 2, "fail", t + 3)
    assert (doc["status"], doc["result"], doc["session_tag"]) == ("completed", "fail", 2)


def test_late_end_of_an_earlier_round_is_refused() -> None:
    doc, t = new_session(("a", "b")), 1000
    start(doc, "a", 0, t)
    start(doc, "b", 0, t)
    end(doc, "a", 1, "success", t + 1)
    assert start(doc, "a", 1, t + HOLD_OFF + 1) == "success"  # b still runs round 1
    with pytest.raises(SessionError, match="end of round 1 ignored: session is at round 2") as refused:
        end(doc, "b", 1, "success", t + HOLD_OFF + 2)
    assert refused.value.status == 409
    with pytest.raises(SessionError, match="did not start round 2"):
        end(doc, "b", 2, "success", t + HOLD_OFF + 2)
    assert doc["jobs"]["b"]["status"] == "" and doc["status"] == "running"


@pytest.mark.parametrize(("result", "message"), [("bogus", "result must be one of"), (None, "result must be one of")])
def test_bad_end_result_is_refused(result: Any, message: str) -> None:
    doc = new_session(("a",))
    start(doc, "a", 0, 1000)
    with pytest.raises(SessionError, match=message):
        end(doc, "a", 1, result, 1001)
