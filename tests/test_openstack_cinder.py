"""--mode cinder end to end: snapshot -> volume -> image -> pipeline, and back, against a real Cinder and Glance.

No VM can attach a volume on the bed, so the tests write a volume's bytes into
its backing file (the NFS driver keeps it as ``volume-<id>`` on the share) and
read the restored volume's bytes back the same way.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.services import Service
from tests.services.openstack import agent, agent_timing_out, backing_file, new_volume, paused, start_agent, temporaries

MIB = 1024 * 1024


def test_backup_and_restore_are_byte_equal_compressed_encrypted_and_leave_no_temporaries(
        openstack_cloud: Service, cloud: Any, tmp_path: Path) -> None:
    name = f"cinder-data-{os.urandom(4).hex()}"  # unique on a bed reused across sessions (FREEZER_OSBED)
    volume = new_volume(cloud, name)
    data = os.urandom(MIB) + b"\0" * MIB + os.urandom(MIB)
    with backing_file(openstack_cloud, volume.id).open("r+b") as f:
        f.write(data)
    pass_file = tmp_path / "pass"
    pass_file.write_text("s3cret\n")
    store = ["--storage", "local", "--container", str(tmp_path / "c"), "--encrypt-pass-file", str(pass_file)]

    done = agent(openstack_cloud, "--mode", "cinder", "--cinder-vol-name", name, "--backup-name", "cvol",
                 *store, "--metadata-out", str(tmp_path / "m.json"))
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "m.json").read_text())
    assert record["backup_media"] == "cinder" and record["engine_name"] == "cinder"
    stored = [p for p in (tmp_path / "c" / "data" / "cinder").rglob("*") if p.is_file()]
    blob = b"".join(p.read_bytes() for p in stored)
    assert len(blob) < 16 * MIB and data[:4096] not in blob  # a 1 GiB image, compressed and encrypted
    assert temporaries(cloud, volume.id) == []

    before = {v.id for v in cloud.block_storage.volumes()}
    back = agent(openstack_cloud, "--action", "restore", "--mode", "cinder", "--cinder-vol-id", volume.id,
                 "--backup-name", "cvol", *store)
    assert back.returncode == 0, back.stderr
    [restored] = [v for v in cloud.block_storage.volumes() if v.id not in before]
    restored_name, _, stamp = restored.name.partition("~")  # stamp: the backup time (the engine starts then)
    assert restored_name == name and 0 <= int(stamp) - record["time_stamp"] <= 2
    assert restored.status == "available" and restored.size == 1
    with backing_file(openstack_cloud, restored.id).open("rb") as f:
        assert f.read(len(data)) == data
    assert temporaries(cloud, volume.id) == []  # the restore's image is gone too
    cloud.block_storage.delete_volume(restored.id)


def test_a_timeout_names_the_resource_and_leaves_nothing_behind(openstack_cloud: Service, cloud: Any,
                                                                tmp_path: Path) -> None:
    volume = new_volume(cloud, "cinder-slow")
    log = tmp_path / "agent.log"
    # cinder-volume frozen: the snapshot stays 'creating' past --timeout
    code, err = agent_timing_out(openstack_cloud, "cinder/volume", log, "--mode", "cinder", "--cinder-vol-id",
                                 volume.id, "--backup-name", "slow", "--storage", "local", "--container",
                                 str(tmp_path / "c"))
    assert code != 0
    assert "timed out after 1 s waiting for snapshot" in err and "its last state was 'creating'" in err
    assert "Traceback" not in err
    assert temporaries(cloud, volume.id) == []  # cleanup waited for each temporary to settle and be gone
    assert not [p for p in (tmp_path / "c").rglob("metadata") if p.is_file()]


def test_ctrl_c_during_the_backup_removes_every_temporary(openstack_cloud: Service, cloud: Any,
                                                         tmp_path: Path) -> None:
    import signal
    import time

    volume = new_volume(cloud, "cinder-interrupted")
    # Glance frozen: the snapshot and its volume copy are made, then the upload to an image cannot start, so
    # Ctrl-C surely lands mid-backup (in Cinder's upload call, or just before it) with two temporaries made.
    with paused(openstack_cloud, "glance/glance"):
        proc = start_agent(openstack_cloud, "--mode", "cinder", "--cinder-vol-id", volume.id, "--backup-name", "int",
                           "--storage", "local", "--container", str(tmp_path / "c"))
        try:
            for _ in range(900):
                made = [v.status for v in cloud.block_storage.volumes()
                        if (v.name or "").startswith(f"freezer_cinder_{volume.id}")]
                if {"available", "uploading"} & set(made):  # uploading: Cinder waits for Glance
                    break
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.2)
            else:
                pytest.fail("the temporary volume never became available")
            proc.send_signal(signal.SIGINT)
        except BaseException:
            proc.kill()
            raise
    _, err = proc.communicate(timeout=900)  # the cleanup waits for each temporary to settle, then removes it
    assert proc.returncode == 8, err  # interrupted
    assert "Traceback" not in err
    assert temporaries(cloud, volume.id) == []
    assert not [p for p in (tmp_path / "c").rglob("metadata") if p.is_file()]


def test_unknown_volume_and_wrong_engine_are_one_line_errors(openstack_cloud: Service, tmp_path: Path) -> None:
    store = ["--storage", "local", "--container", str(tmp_path / "c")]
    missing = agent(openstack_cloud, "--mode", "cinder", "--cinder-vol-id", "no-such-volume", *store)
    assert missing.returncode != 0
    assert "volume no-such-volume not found in Cinder: check --cinder-vol-id" in missing.stderr
    by_name = agent(openstack_cloud, "--mode", "cinder", "--cinder-vol-name", "no-such-name", *store)
    assert by_name.returncode != 0 and "no volume is named 'no-such-name'" in by_name.stderr
    tar = agent(openstack_cloud, "--mode", "cinder", "--cinder-vol-id", "x", "--engine", "tar", *store)
    assert tar.returncode == 2 and "drop --engine" in tar.stderr
    for run in (missing, by_name, tar):
        assert "Traceback" not in run.stderr


@pytest.mark.parametrize("option", ["--cinder-vol-id", "--cinderbrick-vol-id"])
def test_the_volume_option_alone_picks_its_mode_as_upstream_does(option: str, tmp_path: Path) -> None:
    """``--mode`` left at fs: the volume option decides (the note's cinderbrick way), so no --path-to-backup."""
    import subprocess

    from tests.services.openstack import AGENT

    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")} | {"HOME": str(tmp_path)}
    done = subprocess.run([str(AGENT), option, "vol-1", "--storage", "local", "--container", str(tmp_path / "c")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "no OpenStack credentials" in done.stderr and "--path-to-backup" not in done.stderr
