from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from freezer_mode_fs import FsMode

from freezer_core.errors import ModeError, ValidationError
from freezer_core.testing.mode import ModeTests


class TestFsMode(ModeTests):
    @pytest.fixture
    def backup_mode(self, tmp_path: Path) -> FsMode:
        (tmp_path / "src").mkdir()
        (tmp_path / "src" / "f").write_text("x")
        return FsMode({"path_to_backup": str(tmp_path / "src"), "hostname": "node1"})

    @pytest.fixture
    def restore_mode(self, tmp_path: Path) -> FsMode:
        return FsMode({"restore_abs_path": str(tmp_path / "restore")})


def test_source_is_the_path_and_resource_is_the_hostname(tmp_path: Path) -> None:
    with FsMode({"path_to_backup": str(tmp_path), "hostname": "node1"}).prepare() as source:
        assert source.path == tmp_path
        assert source.resource_id == "node1"
        assert source.extra["fs_real_path"] == str(tmp_path)


def test_single_file_source(tmp_path: Path) -> None:
    f = tmp_path / "one.txt"
    f.write_text("1")
    with FsMode({"path_to_backup": str(f)}).prepare() as source:
        assert source.path == f


def test_missing_path_is_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="--path-to-backup .*no such file"):
        with FsMode({"path_to_backup": str(tmp_path / "nope")}).prepare():
            pass


def test_restore_into_non_empty_directory_needs_overwrite(tmp_path: Path) -> None:
    (tmp_path / "existing").write_text("x")
    with pytest.raises(ValidationError, match="not empty.*--overwrite"):
        with FsMode({"restore_abs_path": str(tmp_path)}).restoring():
            pass
    with FsMode({"restore_abs_path": str(tmp_path), "overwrite": True}).restoring() as target:
        assert target == tmp_path


def test_restore_creates_the_target(tmp_path: Path) -> None:
    with FsMode({"restore_abs_path": str(tmp_path / "a" / "b")}).restoring() as target:
        assert target.is_dir()


def test_snapshot_on_a_filesystem_without_provider_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModeError, match="no snapshot provider"):
        with FsMode({"path_to_backup": str(tmp_path), "snapshot": True}).prepare():
            pass


@pytest.fixture
def btrfs_mount(tmp_path: Path):
    """A real btrfs file system on a loop device (needs root and btrfs-progs)."""
    if shutil.which("mkfs.btrfs") is None:
        pytest.fail("btrfs-progs is required for the snapshot tests: make install provides it")
    image = tmp_path / "btrfs.img"
    with open(image, "wb") as f:
        f.truncate(128 * 1024 * 1024)
    subprocess.run(["mkfs.btrfs", "-q", str(image)], check=True)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_btrfs_snapshot_is_frozen_and_removed(btrfs_mount: Path) -> None:
    data = btrfs_mount / "data"
    data.mkdir()
    (data / "f").write_text("before")
    mode = FsMode({"path_to_backup": str(data), "snapshot": True})
    with mode.prepare() as source:
        assert source.path != data
        (data / "f").write_text("after")  # the live tree changes during the backup...
        assert (source.path / "f").read_text() == "before"  # ...the snapshot does not
        snap_root = source.path.parent
    assert not snap_root.exists()
    assert [p.name for p in btrfs_mount.iterdir()] == ["data"]
