"""Unit tests of the catalog: layout, level planning, restore selection, retention, dates."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freezer_core.catalog import (
    BackupRef,
    Catalog,
    Chain,
    LevelPolicy,
    days_ago,
    format_date,
    list_backup_names,
    parse_date,
)
from freezer_core.errors import BackupNotFound, IntegrityError, ValidationError
from freezer_core.testing.memory import MemoryStorage

T = 1_700_000_000
INC2 = LevelPolicy(incremental=True, max_level=2)


def write(storage: MemoryStorage, ref: BackupRef, complete: bool = True) -> None:
    """Store a backup as the core does: data, engine state, then (if it finished) metadata."""
    storage.put(ref.data_name, b"payload")
    storage.put(ref.engine_metadata_name, b"state")
    if complete:
        storage.put(ref.metadata_name, json.dumps({"engine_name": ref.engine}).encode())


def run_backup(cat: Catalog, policy: LevelPolicy, now: int, complete: bool = True) -> BackupRef:
    level, parent = cat.plan_backup(policy, now)
    ref = cat.new_ref(level, parent, now)
    write(cat.storage, ref, complete)  # type: ignore[arg-type]
    return ref


def layout(cat: Catalog) -> list[tuple[int, int, int]]:
    return [(b.level0_ts, b.level, b.ts) for b in cat.backups()]


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture
def cat(storage: MemoryStorage) -> Catalog:
    return Catalog(storage, "tar", "host_db")


# ---------------------------------------------------------------- names


def test_ref_names_follow_upstream_layout() -> None:
    ref = BackupRef("tar", "host_db", T, 1, T + 5)
    assert ref.data_dir == f"data/tar/host_db/{T}/1_{T + 5}"
    assert ref.data_name == f"data/tar/host_db/{T}/1_{T + 5}/data"
    assert ref.engine_metadata_name == f"data/tar/host_db/{T}/1_{T + 5}/engine_metadata"
    assert ref.metadata_dir == f"metadata/tar/host_db/{T}/1_{T + 5}"
    assert ref.metadata_name == f"metadata/tar/host_db/{T}/1_{T + 5}/metadata"
    assert BackupRef.from_metadata_name(ref.metadata_name) == ref


@pytest.mark.parametrize(
    "name",
    [
        f"metadata/tar/host_db/{T}/0_{T}/data",
        f"metadata/tar/host_db/0{T}/0_{T}/metadata",
        f"metadata/tar/host_db/{T}/1_{T - 1}/metadata",
        f"metadata/tar/host_db/{T}/0_{T + 1}/metadata",
        f"metadata/tar/../{T}/0_{T}/metadata",
        "metadata/tar/host_db/x/0_1/metadata",
    ],
)
def test_names_outside_the_layout_do_not_parse(name: str) -> None:
    assert BackupRef.from_metadata_name(name) is None


def test_invalid_names_are_refused(storage: MemoryStorage) -> None:
    for engine, prefix in [("", "h_db"), ("a/b", "h_db"), ("tar", ""), ("tar", "../x"), ("tar", "a//b")]:
        with pytest.raises(ValidationError):
            Catalog(storage, engine, prefix)


# ---------------------------------------------------------------- levels


def test_four_max_level_2_runs_make_a_chain_then_start_another(cat: Catalog) -> None:
    refs = [run_backup(cat, INC2, T + i) for i in range(4)]
    assert [r.level for r in refs] == [0, 1, 2, 0]
    assert layout(cat) == [(T, 0, T), (T, 1, T + 1), (T, 2, T + 2), (T + 3, 0, T + 3)]
    assert [c.level0_ts for c in cat.chains()] == [T, T + 3]


def test_parent_is_highest_level_of_newest_chain(cat: Catalog) -> None:
    a, b = run_backup(cat, INC2, T), run_backup(cat, INC2, T + 10)
    assert cat.plan_backup(INC2, T + 20) == (2, b)
    assert b.level0_ts == a.ts


def test_not_incremental_is_always_level_0(cat: Catalog) -> None:
    run_backup(cat, INC2, T)
    assert cat.plan_backup(LevelPolicy(incremental=False, max_level=5), T + 1) == (0, None)


def test_unbounded_incremental_keeps_growing(cat: Catalog) -> None:
    refs = [run_backup(cat, LevelPolicy(incremental=True), T + i) for i in range(6)]
    assert [r.level for r in refs] == [0, 1, 2, 3, 4, 5]


def test_always_level_makes_differentials(cat: Catalog) -> None:
    policy = LevelPolicy(incremental=True, always_level=2)
    refs = [run_backup(cat, policy, T + i * 10) for i in range(5)]
    assert [r.level for r in refs] == [0, 1, 2, 2, 2]
    assert cat.plan_backup(policy, T + 100) == (2, refs[1])
    # the newest differential wins, each applied on top of the same level 1
    assert cat.restore_chain(None) == [refs[0], refs[1], refs[4]]
    assert cat.restore_chain(T + 25) == [refs[0], refs[1], refs[2]]


def test_lineage_is_every_level_below_the_next_backup(cat: Catalog) -> None:
    """What an engine with ``chain_state`` reads: level 0 up to the parent, never a sibling differential."""
    assert cat.plan_backup_lineage(INC2, T) == (0, [])
    refs = [run_backup(cat, INC2, T + i) for i in range(3)]
    assert cat.plan_backup_lineage(LevelPolicy(incremental=True), T + 5) == (3, refs)
    assert cat.plan_backup_lineage(INC2, T + 5) == (0, [])  # max level reached: a new chain
    policy = LevelPolicy(incremental=True, always_level=2)
    diffs = [run_backup(cat, policy, T + 10 + i) for i in range(2)]
    assert [r.level for r in diffs] == [2, 2]  # differentials on the same level 1
    assert cat.plan_backup_lineage(policy, T + 20) == (2, refs[:2])


def test_always_level_below_highest_starts_a_new_chain(cat: Catalog) -> None:
    for i in range(3):
        run_backup(cat, LevelPolicy(incremental=True), T + i)
    assert cat.plan_backup(LevelPolicy(incremental=True, always_level=1), T + 5) == (0, None)


def test_restart_is_counted_from_level_0_not_the_latest_backup(cat: Catalog) -> None:
    policy = LevelPolicy(incremental=True, always_level=1, restart_always_level=1)
    l0 = run_backup(cat, policy, T)
    run_backup(cat, policy, T + 86000)  # a differential just before the day is over
    # upstream counts from the latest backup (T + 86000) and would not restart here
    assert cat.plan_backup(policy, T + 86401) == (0, None)
    assert cat.plan_backup(policy, T + 86400) == (1, l0)


def test_zero_means_unset_as_upstream_defaults(cat: Catalog) -> None:
    policy = LevelPolicy.from_options(
        {"incremental": True, "max_level": 0, "always_level": 0, "restart_always_level": 0}
    )
    assert policy == LevelPolicy(incremental=True)
    assert [run_backup(cat, policy, T + i).level for i in range(3)] == [0, 1, 2]


def test_legacy_no_incremental_false_means_incremental() -> None:
    assert LevelPolicy.from_options({"no_incremental": False, "max_level": 3}).incremental
    assert not LevelPolicy.from_options({"no_incremental": True}).incremental
    assert not LevelPolicy.from_options({}).incremental


def test_negative_policy_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="--max-level"):
        LevelPolicy(incremental=True, max_level=-1)


def test_incomplete_backups_are_invisible_to_planning_and_restore(cat: Catalog) -> None:
    l0 = run_backup(cat, INC2, T)
    broken = run_backup(cat, INC2, T + 1, complete=False)
    assert broken.level == 1
    assert cat.restore_chain(None) == [l0]
    assert cat.plan_backup(INC2, T + 2) == (1, l0)
    # the retry gets a name of its own, not the interrupted one's
    retry = run_backup(cat, INC2, T + 1)
    assert retry.ts == T + 2 and retry.level == 1


def test_interrupted_level_0_does_not_start_a_chain(cat: Catalog) -> None:
    run_backup(cat, LevelPolicy(), T, complete=False)
    assert cat.chains() == []
    assert cat.plan_backup(INC2, T + 5) == (0, None)
    with pytest.raises(BackupNotFound):
        cat.restore_chain(None)


def test_two_backups_in_one_second_never_collide(cat: Catalog) -> None:
    refs = [run_backup(cat, LevelPolicy(), T) for _ in range(3)]
    assert [r.ts for r in refs] == [T, T + 1, T + 2]
    assert len({r.data_dir for r in refs}) == 3
    inc = run_backup(cat, LevelPolicy(incremental=True), T)  # clock behind the newest
    assert inc.ts == T + 3 and inc.level0_ts == T + 2


def test_new_ref_checks_its_parent(cat: Catalog) -> None:
    l0 = run_backup(cat, INC2, T)
    with pytest.raises(ValueError):
        cat.new_ref(2, l0, T + 1)
    with pytest.raises(ValueError):
        cat.new_ref(1, None, T + 1)


def test_broken_newest_chain_starts_a_new_one(cat: Catalog, storage: MemoryStorage) -> None:
    refs = [run_backup(cat, LevelPolicy(incremental=True), T + i) for i in range(3)]
    storage.delete(refs[1].metadata_dir)
    assert cat.plan_backup(LevelPolicy(incremental=True), T + 10) == (0, None)


# ---------------------------------------------------------------- restore


def test_restore_date_between_levels_1_and_2_restores_0_and_1(cat: Catalog) -> None:
    refs = [run_backup(cat, INC2, T + i * 100) for i in range(3)]
    assert cat.restore_chain(T + 150) == refs[:2]
    assert cat.restore_chain(T + 200) == refs
    assert cat.restore_chain(T) == refs[:1]


def test_restore_picks_newest_chain_at_or_before_date(cat: Catalog) -> None:
    refs = [run_backup(cat, INC2, T + i * 100) for i in range(5)]
    assert cat.restore_chain(None) == refs[3:5]
    assert cat.restore_chain(T + 299) == refs[:3]
    assert cat.restore_chain(T + 300) == refs[3:4]


def test_restore_before_any_backup_is_not_found(cat: Catalog) -> None:
    run_backup(cat, INC2, T)
    with pytest.raises(BackupNotFound) as err:
        cat.restore_chain(T - 1)
    assert "host_db" in str(err.value) and format_date(T - 1) in str(err.value)
    assert "--action info" in str(err.value)
    assert err.value.exit_code == 6


def test_missing_level_is_an_integrity_error_naming_it(cat: Catalog, storage: MemoryStorage) -> None:
    refs = [run_backup(cat, LevelPolicy(incremental=True), T + i) for i in range(4)]
    storage.delete(refs[1].metadata_dir)
    with pytest.raises(IntegrityError, match="no level 1"):
        cat.restore_chain(None)
    assert cat.restore_chain(T) == refs[:1]  # before the gap the chain is fine
    storage.delete(refs[0].metadata_dir)
    with pytest.raises(IntegrityError, match="no level 0"):
        cat.restore_chain(T + 1)


def test_prefixes_that_share_a_beginning_do_not_mix(storage: MemoryStorage) -> None:
    db, db2 = Catalog(storage, "tar", "host_db"), Catalog(storage, "tar", "host_db2")
    a = run_backup(db, INC2, T)
    b = run_backup(db2, INC2, T + 1)
    c = run_backup(db2, INC2, T + 2)
    assert db.restore_chain(None) == [a]
    assert db2.restore_chain(None) == [b, c]
    assert db.plan_backup(INC2, T + 3) == (1, a)
    assert run_backup(db, INC2, T).ts == T + 1  # collision avoidance is per prefix
    assert list_backup_names(storage) == [("tar", "host_db"), ("tar", "host_db2")]


def test_engines_do_not_mix(storage: MemoryStorage) -> None:
    run_backup(Catalog(storage, "tar", "h_db"), INC2, T)
    assert Catalog(storage, "rsync", "h_db").chains() == []


def test_foreign_objects_are_ignored(cat: Catalog, storage: MemoryStorage) -> None:
    ref = run_backup(cat, INC2, T)
    for junk in [
        "metadata/tar/host_db/README",
        "metadata/tar/host_db/notes/0_1/metadata",
        f"metadata/tar/host_db/{T}/junk",
        f"metadata/tar/host_db/{T}/1_x/metadata",
        f"metadata/tar/host_db/{T}/01_{T + 1}/metadata",
        f"metadata/tar/host_db/{T}/1_{T + 1}/metadata/extra",
        f"metadata/tar/host_db/0{T}/0_{T}/metadata",
        f"data/tar/host_db/{T}/zz",
        "metadata/tar/.hidden",
        "metadata/other",
        "something/else",
    ]:
        storage.put(junk, b"?")
    assert cat.backups() == [ref]
    assert cat.restore_chain(None) == [ref]
    assert cat.plan_backup(INC2, T + 5) == (1, ref)
    assert list_backup_names(storage) == [("tar", "host_db")]


def test_nested_resource_prefix(storage: MemoryStorage) -> None:
    inst = Catalog(storage, "nova", "host_vm/1234-abcd")
    parent = Catalog(storage, "nova", "host_vm")
    ref = run_backup(inst, LevelPolicy(), T)
    assert parent.backups() == []
    assert inst.restore_chain(None) == [ref]
    assert list_backup_names(storage) == [("nova", "host_vm/1234-abcd")]


def test_read_metadata(cat: Catalog, storage: MemoryStorage) -> None:
    ref = run_backup(cat, INC2, T)
    assert cat.read_metadata(ref) == {"engine_name": "tar"}
    storage.put(ref.metadata_name, b"[1, 2]")
    with pytest.raises(IntegrityError):
        cat.read_metadata(ref)


# ---------------------------------------------------------------- retention


def test_chain_with_a_newer_increment_is_kept_whole(cat: Catalog, storage: MemoryStorage) -> None:
    refs = [run_backup(cat, INC2, T + i * 100) for i in range(4)]  # T/{0,1,2}, then T+300/0
    # upstream removed the whole first chain for a cutoff equal to the level 2 ts
    assert cat.removable(T + 200) == []
    removable = cat.removable(T + 201)
    assert [c.level0_ts for c in removable] == [T]
    for chain in removable:
        cat.remove(chain)
    assert cat.backups() == refs[3:]
    assert not [n for n in storage.objects if f"/{T}/" in n]


def test_nothing_at_or_after_the_cutoff_is_removed(cat: Catalog) -> None:
    for i in range(6):
        run_backup(cat, INC2, T + i * 100)
    cutoff = T + 250
    for chain in cat.removable(cutoff):
        cat.remove(chain)
    assert all(b.ts >= T + 300 for b in cat.backups())
    assert cat.removable(T + 10_000)[0].level0_ts == T + 300


def test_unfinished_data_newer_than_cutoff_keeps_its_chain(cat: Catalog) -> None:
    run_backup(cat, INC2, T)
    run_backup(cat, INC2, T + 100, complete=False)  # maybe still running
    assert cat.removable(T + 50) == []
    assert len(cat.removable(T + 101)) == 1


def test_remove_deletes_metadata_before_data(cat: Catalog, storage: MemoryStorage) -> None:
    run_backup(cat, INC2, T)
    deleted: list[str] = []
    real_delete = storage.delete

    def spy(name: str) -> None:
        deleted.append(name)
        real_delete(name)

    storage.delete = spy  # type: ignore[method-assign]
    cat.remove(Chain(T))
    assert deleted == [f"metadata/tar/host_db/{T}", f"data/tar/host_db/{T}"]
    assert storage.objects == {}


def test_remove_leaves_similar_prefixes_alone(storage: MemoryStorage) -> None:
    db, db2 = Catalog(storage, "tar", "host_db"), Catalog(storage, "tar", "host_db2")
    run_backup(db, INC2, T)
    kept = run_backup(db2, INC2, T)
    for chain in db.removable(T + 1000):
        db.remove(chain)
    assert db.backups() == [] and db2.backups() == [kept]


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-11-14T22:13:20", T),
        ("2023-11-14 22:13:20", T),
        ("2023-11-14T22:13:20Z", T),
        ("2023-11-14T23:13:20+01:00", T),
        ("2023-11-14T20:13:20-02:00", T),
        ("2023-11-14T22:13:20.900", T),
        ("2023-11-14", T - (22 * 3600 + 13 * 60 + 20)),
        (" 2023-11-14T22:13:20 ", T),
    ],
)
def test_parse_date(text: str, expected: int) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2023-13-01", "2023-11-14T25:00:00", "1700000000"])
def test_bad_dates_name_the_value(text: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_date(text, option="--remove-before-date")
    assert repr(text) in str(err.value) and "--remove-before-date" in str(err.value)
    assert err.value.exit_code == 2


@given(st.integers(min_value=0, max_value=4_000_000_000))
def test_format_and_parse_round_trip(ts: int) -> None:
    assert parse_date(format_date(ts)) == ts


def test_days_ago() -> None:
    assert days_ago(1, T) == T - 86400
    assert days_ago(0.5, T) == T - 43200
    assert days_ago(0, T) == T
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValidationError):
            days_ago(bad, T)


def test_level_added_after_a_higher_one_ends_the_restore_there(cat: Catalog, storage: MemoryStorage) -> None:
    """A level 2 made on the older level 1 must not be applied on top of a newer level 1."""
    l0, l1a, l2, l1b = (BackupRef("tar", "host_db", T, lvl, T + i) for i, lvl in enumerate([0, 1, 2, 1]))
    for ref in (l0, l1a, l2, l1b):
        write(storage, ref)
    assert cat.restore_chain(None) == [l0, l1b]
    assert cat.restore_chain(T + 2) == [l0, l1a, l2]
