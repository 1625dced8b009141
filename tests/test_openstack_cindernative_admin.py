"""Admin of cindernative backups: removing Freezer's records deletes their Cinder backups, chain-safely.

Two full backups of one volume, each with an increment, made by the agent
through the real cinder-backup service; the admin action runs with several
cutoffs and what remains is checked through Cinder's API.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.services import Service
from tests.services.openstack import agent


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _backups(cloud: Any, volume_id: str) -> list[Any]:
    found = [b for b in cloud.block_storage.backups(details=True) if b.volume_id == volume_id]
    return sorted(found, key=lambda b: b.created_at)


def test_admin_removes_the_older_chain_increments_first_and_keeps_what_is_needed(
        openstack_cloud: Service, cloud: Any, tmp_path: Path) -> None:
    volume = cloud.block_storage.wait_for_status(cloud.block_storage.create_volume(size=1, name="admin-vol"),
                                                 "available", failures=["error"], wait=300)
    common = ["--mode", "cindernative", "--cindernative-vol-id", volume.id, "--backup-name", "adm",
              "--storage", "local", "--container", str(tmp_path / "c"),
              "--cindernative-backup-container", "freezer_admin_test"]
    stamps = []
    for i, extra in enumerate([[], [], ["--no-incremental", "true"], []]):  # F1, I1, F2, I2
        out = tmp_path / f"m{i}.json"
        done = agent(openstack_cloud, *common, *extra, "--metadata-out", str(out))
        assert done.returncode == 0, done.stderr
        stamps.append(json.loads(out.read_text())["time_stamp"])
    made = _backups(cloud, volume.id)
    assert [b.is_incremental for b in made] == [False, True, False, True]
    f1, i1, f2, i2 = (b.id for b in made)

    def admin(*args: str) -> dict[str, Any]:
        out = tmp_path / "admin.json"
        done = agent(openstack_cloud, "--action", "admin", *common, *args, "--metadata-out", str(out))
        assert done.returncode == 0, done.stderr
        return dict(json.loads(out.read_text()))

    # Only F1 is older than I1: it is kept, because I1 (kept) depends on it.
    result = admin("--remove-before-date", _iso(stamps[1]), "--fullbackup-rotation", "0")
    assert result["removed_backups"] == []
    assert [(k["time_stamp"], "has incremental backups that are kept" in k["reason"])
            for k in result["kept_backups"]] == [(stamps[0], True)]
    assert [b.id for b in _backups(cloud, volume.id)] == [f1, i1, f2, i2]

    # Everything before F2: I1 goes, then F1; the second chain is untouched.
    result = admin("--remove-before-date", _iso(stamps[2]))
    assert sorted(b["time_stamp"] for b in result["removed_backups"]) == stamps[:2]
    assert result["kept_backups"] == []
    assert [(b.id, b.status) for b in _backups(cloud, volume.id)] == [(f2, "available"), (i2, "available")]

    # Everything, but the newest full chain is kept by the default --fullbackup-rotation 1.
    result = admin("--remove-older-than", "0")
    assert result["removed_backups"] == []
    assert {k["time_stamp"] for k in result["kept_backups"]} == set(stamps[2:])
    assert all("--fullbackup-rotation 1" in k["reason"] for k in result["kept_backups"])
    assert [b.id for b in _backups(cloud, volume.id)] == [f2, i2]

    # Without the floor the last chain goes too, and the catalog is empty.
    result = admin("--remove-older-than", "0", "--fullbackup-rotation", "0")
    assert sorted(b["time_stamp"] for b in result["removed_backups"]) == stamps[2:]
    assert _backups(cloud, volume.id) == []
    assert not [p for p in (tmp_path / "c").rglob("metadata") if p.is_file()]


def test_a_record_that_is_not_cindernative_is_refused_before_any_cinder_call() -> None:
    from freezer_mode_cindernative.engine import CindernativeEngine

    from freezer_core.contract import StoredBackup
    from freezer_core.errors import IntegrityError

    def record(payload: bytes) -> StoredBackup:
        return StoredBackup(0, 1, 1, metadata=lambda: {}, read=lambda: iter([payload]))

    engine = CindernativeEngine({"timeout": 1})
    for payload in (b"not json", b'{"kind": "freezer-glance/1", "backup_id": "b"}', b'{"kind": "x"}'):
        with pytest.raises(IntegrityError, match="not a cindernative record written by Freezer"):
            engine.forget(record(payload))
