"""--mode cindernative end to end: the deployment note's command against a real Cinder and cinder-backup.

No VM can attach a volume on the bed, so the tests write a volume's bytes into
its backing file (the NFS driver keeps it as ``volume-<id>`` on the share).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from tests.services import Service
from tests.services.openstack import agent, agent_timing_out, backing_file, new_volume

MIB = 1024 * 1024


def _write(service: Service, volume_id: str, data: bytes) -> None:
    with backing_file(service, volume_id).open("r+b") as f:
        f.write(data)


def _read(service: Service, volume_id: str, size: int) -> bytes:
    with backing_file(service, volume_id).open("rb") as f:
        return f.read(size)


def _backups(cloud: Any, volume_id: str) -> list[Any]:
    return [b for b in cloud.block_storage.backups(details=True) if b.volume_id == volume_id]


def _wait_no_backups(cloud: Any, volume_id: str) -> list[Any]:
    for _ in range(240):  # cinder deletes asynchronously: poll its API until the backups are gone
        left = _backups(cloud, volume_id)
        if not left:
            return left
        time.sleep(0.5)
    return _backups(cloud, volume_id)


def test_note_command_full_then_incremental_and_restore_by_date(openstack_cloud: Service, cloud: Any,
                                                                tmp_path: Path) -> None:
    volume = new_volume(cloud, "data-vol")
    first_bytes, second_bytes = os.urandom(MIB), os.urandom(MIB)
    _write(openstack_cloud, volume.id, first_bytes)
    note = ["--mode", "cindernative", "--cindernative-vol-id", volume.id, "--backup-name", "cinder_backup"]

    full = agent(openstack_cloud, *note, "--metadata-out", str(tmp_path / "m1.json"))
    assert full.returncode == 0, full.stderr
    _write(openstack_cloud, volume.id, second_bytes)
    incr = agent(openstack_cloud, *note, "--metadata-out", str(tmp_path / "m2.json"))
    assert incr.returncode == 0, incr.stderr

    made = sorted(_backups(cloud, volume.id), key=lambda b: b.created_at)
    assert [b.status for b in made] == ["available", "available"]
    assert [b.is_incremental for b in made] == [False, True]
    assert {b.container for b in made} == {"freezer_backups"}
    catalog = [o.name for o in cloud.object_store.objects("freezer_backups")]  # the note's default: swift
    assert any(n.startswith("data/cindernative/") for n in catalog)

    ts1 = json.loads((tmp_path / "m1.json").read_text())["time_stamp"]
    before = {v.id for v in cloud.block_storage.volumes()}
    old = agent(openstack_cloud, "--action", "restore", *note, "--restore-from-date", _iso(ts1))
    assert old.returncode == 0, old.stderr
    newest = agent(openstack_cloud, "--action", "restore", *note)
    assert newest.returncode == 0, newest.stderr
    restored = sorted((v for v in cloud.block_storage.volumes() if v.id not in before), key=lambda v: v.created_at)
    assert len(restored) == 2 and all(v.name.startswith("data-vol~") and v.status == "available" for v in restored)
    assert _read(openstack_cloud, restored[0].id, MIB) == first_bytes
    assert _read(openstack_cloud, restored[1].id, MIB) == second_bytes
    for v in restored:
        cloud.block_storage.delete_volume(v.id)


def test_timeout_names_the_backup_and_leaves_nothing(openstack_cloud: Service, cloud: Any, tmp_path: Path) -> None:
    volume = new_volume(cloud, "slow-vol")
    log = tmp_path / "agent.log"
    # cinder-backup frozen: the backup stays 'creating' past --timeout
    code, err = agent_timing_out(openstack_cloud, "cinder/backup", log, "--mode", "cindernative",
                                 "--cindernative-vol-id", volume.id, "--backup-name", "t", "--storage", "local",
                                 "--container", str(tmp_path / "c"))
    assert code != 0
    assert "timed out after 1 s waiting for cinder backup" in err
    assert "last state was 'creating'" in err and "Traceback" not in err
    assert _wait_no_backups(cloud, volume.id) == []  # the unfinished backup was removed from Cinder
    assert not [p for p in (tmp_path / "c").rglob("metadata") if p.is_file()]

    missing = agent(openstack_cloud, "--mode", "cindernative", "--cindernative-vol-id", "no-such-volume",
                    "--backup-name", "t", "--storage", "local", "--container", str(tmp_path / "c"))
    assert missing.returncode != 0 and "volume no-such-volume not found in Cinder" in missing.stderr


def _iso(ts: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S")
