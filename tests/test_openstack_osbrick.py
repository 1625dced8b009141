"""--mode cinderbrick / --engine osbrick against a real Cinder: os-brick's NFS connector on the bed's share.

The bed's Cinder uses the NFS driver on a bind-mounted directory (no kernel NFS
here).  Cinder's connection info names its own mount point base, where the
share is already mounted, so os-brick's RemoteFs connector finds it in
/proc/mounts, skips ``mount -t nfs`` and returns the volume's file, which the
osbrick engine loop-mounts.  The tests fill a volume by writing an ext4 file
system into its backing file (no VM can attach it) and check restores the
same way.  What cannot run here (a real NFS mount, iSCSI/FC/RBD devices) is
listed in docs/openstack.md.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from freezer_engine_osbrick.mount import Mounted
from freezer_mode_cinderbrick import attach
from freezer_openstack import Cloud

from freezer_core.errors import ModeError
from freezer_core.testing.trees import File, make_tree, tree_state
from tests.services import Service
from tests.services.openstack import agent, agent_timing_out, backing_file, new_volume, temporaries


@pytest.fixture
def our_cloud(openstack_cloud: Service, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    """Freezer's own connection, made from the bed's openrc as the agent makes it."""
    for key, value in openstack_cloud.env.items():
        if key.startswith("OS_"):
            monkeypatch.setenv(key, value)
    made = Cloud({"timeout": 120})
    yield made
    made.close()


def _files(path: Path) -> dict[str, Any]:
    with Mounted(path, read_only=True) as directory:
        return {k: v for k, v in tree_state(directory).items() if not k.startswith("lost+found")}


def test_os_brick_attaches_the_volume_file_cinder_exports(openstack_cloud: Service, cloud: Any,
                                                         our_cloud: Cloud) -> None:
    volume = new_volume(cloud, "brick-probe")
    props = attach.connector_properties("freezer-test-host")
    assert props["host"] == "freezer-test-host" and props["os_type"] == "linux"
    info = attach.initialize_connection(our_cloud, volume.id, props)
    assert info["driver_volume_type"] == "nfs"
    assert info["data"]["name"] == f"volume-{volume.id}" and ":" in info["data"]["export"]
    initiator, device = attach.connect(info)
    assert os.path.samefile(device["path"], backing_file(openstack_cloud, volume.id))
    initiator.disconnect_volume(info["data"], device)

    with attach.attached(our_cloud, volume.id) as path:
        assert os.path.samefile(path, backing_file(openstack_cloud, volume.id))
        assert cloud.block_storage.get_volume(volume.id).status == "in-use"  # Cinder recorded the attachment
    assert cloud.block_storage.get_volume(volume.id).status == "available"  # and its end
    cloud.block_storage.delete_volume(volume.id)


def test_os_brick_cannot_mount_nfs_here_and_says_so(openstack_cloud: Service, cloud: Any, our_cloud: Cloud,
                                                    tmp_path: Path) -> None:
    volume = new_volume(cloud, "brick-nomount")
    info = attach.initialize_connection(our_cloud, volume.id, attach.connector_properties())
    info["mount_point_base"] = str(tmp_path / "mnt")  # a mount point where the share is not mounted yet
    with pytest.raises(ModeError, match="os-brick could not attach the volume over nfs: NFS mount failed for share"):
        attach.connect(info)
    assert str(tmp_path) not in Path("/proc/mounts").read_text()
    cloud.block_storage.delete_volume(volume.id)


def test_note_flow_backup_incremental_and_restore_into_a_new_volume(openstack_cloud: Service, cloud: Any,
                                                                   tmp_path: Path) -> None:
    volume = new_volume(cloud, "brick-data")
    backing = backing_file(openstack_cloud, volume.id)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(backing)], check=True)
    with Mounted(backing, read_only=False) as directory:
        make_tree(directory, {"etc/app.conf": File(b"port=1\n"), "data/blob.bin": File(os.urandom(300_000)),
                              "old.txt": File(b"old\n")})
    pass_file = tmp_path / "pass"
    pass_file.write_text("s3cret\n")
    common = ["--mode", "cinderbrick", "--cinderbrick-vol-id", volume.id, "--backup-name", "brick",
              "--storage", "local", "--container", str(tmp_path / "c"), "--encrypt-pass-file", str(pass_file)]

    first = agent(openstack_cloud, *common, "--incremental", "--metadata-out", str(tmp_path / "m0.json"))
    assert first.returncode == 0, first.stderr
    assert temporaries(cloud, volume.id) == []
    with Mounted(backing, read_only=False) as directory:
        (directory / "etc/app.conf").write_bytes(b"port=2\n")
        (directory / "old.txt").unlink()
    expected = _files(backing)
    second = agent(openstack_cloud, *common, "--incremental", "--metadata-out", str(tmp_path / "m1.json"))
    assert second.returncode == 0, second.stderr
    assert json.loads((tmp_path / "m1.json").read_text())["curr_backup_level"] == 1
    assert [p.parts[-5] for p in (tmp_path / "c").rglob("engine_metadata")] == ["osbrick", "osbrick"]
    assert temporaries(cloud, volume.id) == []

    before = {v.id for v in cloud.block_storage.volumes()}
    restored = agent(openstack_cloud, "--action", "restore", *common)
    assert restored.returncode == 0, restored.stderr
    [made] = [v for v in cloud.block_storage.volumes() if v.id not in before]
    assert made.name.startswith("brick-data~") and made.status == "available" and made.size == 1
    assert _files(backing_file(openstack_cloud, made.id)) == expected
    cloud.block_storage.delete_volume(made.id)


def test_a_timeout_leaves_no_snapshot_or_volume(openstack_cloud: Service, cloud: Any, tmp_path: Path) -> None:
    volume = new_volume(cloud, "brick-slow")
    log = tmp_path / "agent.log"
    # cinder-volume frozen: the snapshot stays 'creating' past --timeout
    code, err = agent_timing_out(openstack_cloud, "cinder/volume", log, "--mode", "cinderbrick",
                                 "--cinderbrick-vol-id", volume.id, "--backup-name", "s", "--storage", "local",
                                 "--container", str(tmp_path / "c"))
    assert code != 0 and "timed out after 1 s waiting for snapshot" in err
    assert "Traceback" not in err
    assert temporaries(cloud, volume.id) == []
