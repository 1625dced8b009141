"""Stateful test: random backups, interruptions, removals and restores against a tiny model.

The model is deliberately simpler than the catalog: a list of backups that remember their parent,
so a restore is "follow the parents of the newest backup at or before the date", and retention is
"drop a chain when everything in it is older than the cutoff".  The catalog derives the same
answers from object names alone, so any disagreement is a bug in one of the two.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from freezer_core.catalog import DAY, BackupRef, Catalog, LevelPolicy
from freezer_core.errors import BackupNotFound
from freezer_core.testing.memory import MemoryStorage

T0 = 1_700_000_000


@dataclass(frozen=True)
class Entry:
    level0_ts: int
    level: int
    ts: int
    parent: Entry | None
    complete: bool


policies = st.builds(
    LevelPolicy,
    incremental=st.booleans(),
    max_level=st.none() | st.integers(1, 4),
    always_level=st.none() | st.integers(1, 3),
    restart_always_level=st.none() | st.sampled_from([0.5, 1.0, 2.5]),
)
advances = st.integers(0, 3) | st.integers(0, 4 * DAY)


class Model:
    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def complete(self) -> list[Entry]:
        return [e for e in self.entries if e.complete]

    def tip(self, level0_ts: int, date: int | None) -> list[Entry]:
        """Follow the parents of the newest complete backup of the chain at or before ``date``."""
        usable = [e for e in self.complete() if e.level0_ts == level0_ts and (date is None or e.ts <= date)]
        newest: Entry | None = max(usable, key=lambda e: e.ts)
        path = []
        while newest is not None:
            path.append(newest)
            newest = newest.parent
        return path[::-1]

    def plan(self, policy: LevelPolicy, now: int) -> tuple[int, Entry | None]:
        chains = sorted({e.level0_ts for e in self.complete()})
        if not policy.incremental or not chains:
            return 0, None
        tip = self.tip(chains[-1], None)
        highest = len(tip) - 1
        if policy.max_level and highest >= policy.max_level:
            return 0, None
        if policy.always_level and highest > policy.always_level:
            return 0, None
        if policy.restart_always_level and now - chains[-1] > policy.restart_always_level * DAY:
            return 0, None
        parent = tip[policy.always_level - 1] if policy.always_level == highest else tip[-1]
        return parent.level + 1, parent

    def add(self, policy: LevelPolicy, now: int, complete: bool) -> Entry:
        level, parent = self.plan(policy, now)
        ts = max([now] + [e.ts + 1 for e in self.entries])
        entry = Entry(ts if parent is None else parent.level0_ts, level, ts, parent, complete)
        self.entries.append(entry)
        return entry

    def remove(self, cutoff: int) -> None:
        doomed = {
            e.level0_ts
            for e in self.complete()
            if all(o.ts < cutoff for o in self.entries if o.level0_ts == e.level0_ts)
        }
        self.entries = [e for e in self.entries if e.level0_ts not in doomed]


def as_ref(e: Entry) -> BackupRef:
    return BackupRef("tar", "host_db", e.level0_ts, e.level, e.ts)


class CatalogMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.storage = MemoryStorage()
        self.catalog = Catalog(self.storage, "tar", "host_db")
        self.neighbour = Catalog(self.storage, "tar", "host_db2")
        self.model = Model()
        self.now = T0

    def _backup(self, policy: LevelPolicy, advance: int, complete: bool) -> None:
        self.now += advance
        level, parent = self.catalog.plan_backup(policy, self.now)
        ref = self.catalog.new_ref(level, parent, self.now)
        expected = self.model.add(policy, self.now, complete)
        assert (level, ref) == (expected.level, as_ref(expected))
        assert parent == (as_ref(expected.parent) if expected.parent else None)
        self.storage.put(ref.data_name, b"x")
        self.storage.put(ref.engine_metadata_name, b"state")
        if complete:
            self.storage.put(ref.metadata_name, json.dumps({"engine_name": "tar"}).encode())

    @rule(policy=policies, advance=advances)
    def backup(self, policy: LevelPolicy, advance: int) -> None:
        self._backup(policy, advance, complete=True)

    @rule(policy=policies, advance=advances)
    def interrupted_backup(self, policy: LevelPolicy, advance: int) -> None:
        self._backup(policy, advance, complete=False)

    @rule(advance=advances)
    def neighbour_backup(self, advance: int) -> None:
        """Backups of ``host_db2`` share a name prefix with ours and must never show up or go."""
        self.now += advance
        level, parent = self.neighbour.plan_backup(LevelPolicy(incremental=True, max_level=3), self.now)
        ref = self.neighbour.new_ref(level, parent, self.now)
        self.storage.put(ref.data_name, b"y")
        self.storage.put(ref.metadata_name, b"{}")

    @rule(
        name=st.sampled_from(
            [
                "metadata/tar/host_db/junk",
                "metadata/tar/host_db/1/x_1/metadata",
                "data/tar/host_db/notes.txt",
                "metadata/tar/host_db/5/0_6/metadata",
            ]
        )
    )
    def junk(self, name: str) -> None:
        self.storage.put(name, b"?")

    @precondition(lambda self: self.model.entries)
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        first = min(e.ts for e in self.model.entries)
        cutoff = data.draw(st.integers(first - 10, self.now + 10), label="cutoff")
        before = set(self.catalog.backups())
        data_before = set(self.storage.objects)
        neighbour_before = self.neighbour.backups()
        for chain in self.catalog.removable(cutoff):
            self.catalog.remove(chain)
        self.model.remove(cutoff)
        gone = before - set(self.catalog.backups())
        assert all(ref.ts < cutoff for ref in gone), (cutoff, gone)
        for name in data_before - set(self.storage.objects):
            ts = int(name.split("/")[4].split("_")[1])
            assert ts < cutoff, (cutoff, name)
        assert self.neighbour.backups() == neighbour_before

    @rule(data=st.data())
    def restore(self, data: st.DataObject) -> None:
        date = data.draw(st.none() | st.integers(T0 - 10, self.now + 10), label="date")
        chains = sorted({e.level0_ts for e in self.model.complete() if date is None or e.level0_ts <= date})
        if not chains:
            try:
                self.catalog.restore_chain(date)
            except BackupNotFound:
                return
            raise AssertionError("restore found a backup the model does not have")
        got = self.catalog.restore_chain(date)
        assert got == [as_ref(e) for e in self.model.tip(chains[-1], date)]
        assert [r.level for r in got] == list(range(len(got)))
        assert len({r.level0_ts for r in got}) == 1
        assert all(date is None or r.ts <= date for r in got)
        assert all(a.ts < b.ts for a, b in itertools.pairwise(got))

    @invariant()
    def catalog_agrees_with_model(self) -> None:
        if hasattr(self, "model"):
            assert self.catalog.backups() == sorted(as_ref(e) for e in self.model.complete())

    @invariant()
    def kept_chains_are_restorable(self) -> None:
        if hasattr(self, "model"):
            for chain in self.catalog.chains():
                tip = chain.tip()  # raises IntegrityError on a missing level
                assert [r.level for r in tip] == list(range(len(tip))) and tip


CatalogMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestCatalogMachine = CatalogMachine.TestCase
