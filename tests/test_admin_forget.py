"""Engine.forget: the admin action lets an engine release what a backup holds outside the storage.

Real tar backups (encrypted) are written to the in-memory storage; the admin action then runs with a
recording engine standing in for one that keeps data elsewhere (as cindernative keeps Cinder backups).
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

import freezer_core
from freezer_core.actions import admin, backup, restore
from freezer_core.contract import BackupStream, Engine, Source, StoredBackup
from freezer_core.errors import BackupInUse, EngineError
from freezer_core.testing.memory import MemoryStorage
from freezer_core.testing.trees import tree_state

ROOT = Path(__file__).resolve().parents[1]
FAR_FUTURE = "2100-01-01T00:00:00"


class RecordingEngine(Engine):
    """Records each forget call with what it read; refuses the backups listed in ``refuse``."""

    name = "tar"

    def __init__(self, options: Any, refuse: dict[tuple[int, int], Exception] | None = None) -> None:
        super().__init__(options)
        self.refuse = refuse or {}
        self.calls: list[tuple[int, int, int, str, bytes]] = []

    def backup(self, source: Source, previous_state: bytes | None) -> BackupStream:
        raise AssertionError("not used by admin")

    def restore(self, chunks: Iterable[bytes], target: Path, level: int) -> None:
        raise AssertionError("not used by admin")

    def forget(self, backup: StoredBackup) -> None:
        payload = b"".join(backup.read())
        self.calls.append((backup.level0_time_stamp, backup.level, backup.time_stamp,
                           str(backup.metadata()["engine_name"]), payload))
        error = self.refuse.get((backup.level0_time_stamp, backup.level))
        if error is not None:
            raise error


@pytest.fixture
def storage(monkeypatch: pytest.MonkeyPatch) -> MemoryStorage:
    store = MemoryStorage()
    for module in (admin, backup, restore):
        monkeypatch.setattr(module, "open_storage", lambda action: store)
    return store


@pytest.fixture
def opts(tmp_path: Path) -> dict[str, Any]:
    pass_file = tmp_path / "pass"
    pass_file.write_text("secret\n")
    return {"storage": "memory", "container": "mem", "backup_name": "b", "hostname": "h",
            "encrypt_pass_file": str(pass_file)}


@pytest.fixture
def chains(tmp_path: Path, storage: MemoryStorage, opts: dict[str, Any]) -> list[dict[str, Any]]:
    """Two chains of two levels each: A0, A1, B0, B1 (the tree changes between backups)."""
    src = tmp_path / "src"
    src.mkdir()
    records = []
    for i in range(4):
        (src / f"file{i}.txt").write_text(f"content {i}\n")
        records.append(freezer_core.run(opts | {"path_to_backup": str(src), "incremental": True, "max_level": 1}))
    assert [r["curr_backup_level"] for r in records] == [0, 1, 0, 1]
    return records


def _admin(monkeypatch: pytest.MonkeyPatch, engine: Engine, opts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    monkeypatch.setattr(admin, "open_engine", lambda action: engine)
    return freezer_core.run(opts | {"action": "admin", "remove_before_date": FAR_FUTURE} | extra)


def _listed(storage: MemoryStorage) -> list[str]:
    return sorted(n for n in storage.objects if n.startswith("metadata/"))


def test_forget_sees_every_removed_backup_newest_first_with_its_payload(
        monkeypatch: pytest.MonkeyPatch, storage: MemoryStorage, opts: dict[str, Any],
        chains: list[dict[str, Any]]) -> None:
    engine = RecordingEngine(opts)
    result = _admin(monkeypatch, engine, opts)
    a0, b0 = chains[0]["time_stamp"], chains[2]["time_stamp"]
    assert [(c[0], c[1], c[2]) for c in engine.calls] == [
        (b0, 1, chains[3]["time_stamp"]), (b0, 0, b0), (a0, 1, chains[1]["time_stamp"]), (a0, 0, a0)]
    assert {c[3] for c in engine.calls} == {"tar"}
    for *_, payload in engine.calls:  # decrypted and decompressed: the tar stream itself
        names = tarfile.open(fileobj=io.BytesIO(payload)).getnames()
        assert any(n.endswith(".txt") for n in names)
    assert storage.objects == {}
    assert len(result["removed_backups"]) == 4 and result["kept_backups"] == []


def test_a_failing_forget_keeps_that_backup_listed_and_restorable(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, storage: MemoryStorage, opts: dict[str, Any],
        chains: list[dict[str, Any]]) -> None:
    a0 = chains[0]["time_stamp"]
    engine = RecordingEngine(opts, refuse={(a0, 0): EngineError("cinder is down")})
    with pytest.raises(EngineError, match="cinder is down"):
        _admin(monkeypatch, engine, opts)
    assert _listed(storage) == [f"metadata/tar/h_b/{a0}/0_{a0}/metadata"]  # A1 and chain B are gone
    out = tmp_path / "out"
    restored = freezer_core.run(opts | {"action": "restore", "restore_abs_path": str(out)})
    assert restored["restored_levels"] == [0] and restored["time_stamp"] == a0
    assert sorted(tree_state(out)) == ["file0.txt"]


def test_a_backup_in_use_is_kept_with_the_levels_below_and_admin_goes_on(
        monkeypatch: pytest.MonkeyPatch, storage: MemoryStorage, opts: dict[str, Any],
        chains: list[dict[str, Any]]) -> None:
    a0, b0 = chains[0]["time_stamp"], chains[2]["time_stamp"]
    engine = RecordingEngine(opts, refuse={(b0, 1): BackupInUse("a kept backup depends on it")})
    result = _admin(monkeypatch, engine, opts)
    assert [(c[0], c[1]) for c in engine.calls] == [(b0, 1), (a0, 1), (a0, 0)]  # B0 is not even asked
    assert _listed(storage) == [f"metadata/tar/h_b/{b0}/0_{b0}/metadata",
                                f"metadata/tar/h_b/{b0}/1_{chains[3]['time_stamp']}/metadata"]
    assert sorted(b["time_stamp"] for b in result["removed_backups"]) == [a0, chains[1]["time_stamp"]]
    assert {(b["level"], b["reason"]) for b in result["kept_backups"]} == {
        (0, "a kept backup depends on it"), (1, "a kept backup depends on it")}


def test_dry_run_asks_no_engine_and_removes_nothing(
        monkeypatch: pytest.MonkeyPatch, storage: MemoryStorage, opts: dict[str, Any],
        chains: list[dict[str, Any]]) -> None:
    before = dict(storage.objects)
    engine = RecordingEngine(opts)
    result = _admin(monkeypatch, engine, opts, dry_run=True)
    assert engine.calls == [] and storage.objects == before
    assert len(result["removed_backups"]) == 4


def test_the_default_forget_releases_nothing_and_reads_nothing(storage: MemoryStorage,
                                                               opts: dict[str, Any]) -> None:
    class Plain(RecordingEngine):
        forget = Engine.forget

    def never() -> Any:
        raise AssertionError("the default forget must not read the storage")

    assert Plain(opts).forget(StoredBackup(0, 1, 1, metadata=never, read=never)) is None


def test_forget_is_documented_for_plugin_authors() -> None:
    doc = (ROOT / "docs/plugins.md").read_text()
    assert "`forget(backup)`" in doc and "BackupInUse" in doc
