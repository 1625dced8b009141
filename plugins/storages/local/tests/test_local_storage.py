from __future__ import annotations

import os
from pathlib import Path

import pytest
from freezer_storage_local import WRITE_PIECE, LocalStorage

from freezer_core.errors import PermissionDenied, StorageError, StorageFull
from freezer_core.testing.storage import StorageTests


class TestLocalStorage(StorageTests):
    @pytest.fixture
    def storage(self, tmp_path: Path) -> LocalStorage:
        return LocalStorage(str(tmp_path / "container"), {})


def test_layout_is_plain_files(tmp_path: Path) -> None:
    storage = LocalStorage(str(tmp_path), {})
    storage.put("metadata/tar/h_n/1/0_1/metadata", b"{}")
    assert (tmp_path / "metadata/tar/h_n/1/0_1/metadata").read_bytes() == b"{}"


def test_uploaded_data_is_private(tmp_path: Path) -> None:
    storage = LocalStorage(str(tmp_path), {})
    up = storage.open_upload("d/data")
    up.write_part(0, 0, b"secret")
    up.complete()
    assert (tmp_path / "d/data").stat().st_mode & 0o077 == 0


def test_delete_prunes_empty_directories(tmp_path: Path) -> None:
    storage = LocalStorage(str(tmp_path / "c"), {})
    storage.put("data/tar/h_n/1/0_1/data", b"x")
    storage.delete("data/tar/h_n/1")
    assert not (tmp_path / "c/data").exists()
    assert (tmp_path / "c").is_dir()


def test_unwritable_container_is_a_clear_error() -> None:
    # /sys refuses new directories even to root (EPERM), like a read-only mount.
    with pytest.raises(PermissionDenied, match="permission denied"):
        LocalStorage("/sys/freezer-test-container", {}).put("x", b"1")


def test_full_disk_is_a_clear_error(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.fail("/dev/full is needed to simulate a full disk")
    storage = LocalStorage(str(tmp_path), {})
    (tmp_path / "d").mkdir()
    up = storage.open_upload("d/data")
    os.close(up.fd)
    up.fd = os.open("/dev/full", os.O_WRONLY)
    with pytest.raises(StorageFull, match="no space left"):
        up.write_part(0, 0, b"x" * 65536)
        up.complete()
    up.abort()
    assert storage.size("d/data") is None


def test_each_part_is_sent_to_disk_as_soon_as_it_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """So that complete()'s fsync waits for the last part only, not the whole object."""
    advised: list[tuple[int, int, int]] = []
    advise = os.posix_fadvise

    def record(fd: int, offset: int, length: int, advice: int) -> None:
        advised.append((offset, length, advice))
        advise(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", record)
    storage = LocalStorage(str(tmp_path), {})
    up = storage.open_upload("d/data")
    up.write_part(1, 5000, b"b" * 3000)  # parts may arrive out of order
    up.write_part(0, 0, b"a" * 5000)
    up.complete()
    assert sorted(advised) == [(0, 5000, os.POSIX_FADV_DONTNEED), (5000, 3000, os.POSIX_FADV_DONTNEED)]
    assert storage.get("d/data") == b"a" * 5000 + b"b" * 3000


def test_large_parts_and_objects_reach_the_kernel_in_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No write call is larger than WRITE_PIECE (large calls cost a VM host faults), and no byte is lost."""
    calls: list[int] = []
    pwrite = os.pwrite

    def short_pwrite(fd: int, data: memoryview, offset: int) -> int:
        calls.append(len(data))
        return pwrite(fd, data[: max(1, len(data) - 7)], offset)  # the kernel may write less than asked

    monkeypatch.setattr(os, "pwrite", short_pwrite)
    part = os.urandom(2 * WRITE_PIECE + 12345)
    storage = LocalStorage(str(tmp_path), {})
    up = storage.open_upload("d/data")
    up.write_part(1, 100, part)
    up.write_part(0, 0, part[:100])
    up.complete()
    storage.put("d/whole", part)
    assert storage.get("d/data") == part[:100] + part
    assert storage.get("d/whole") == part
    assert max(calls) == WRITE_PIECE
    assert len(calls) >= 2 * 4  # three pieces of each, and a short write after each


def test_a_long_upload_is_synced_in_the_background(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """So that complete()'s fsync finds little left to flush: one fdatasync per FLUSH_EVERY bytes."""
    import freezer_storage_local as local

    synced: list[int] = []
    monkeypatch.setattr(local, "FLUSH_EVERY", 4000)
    monkeypatch.setattr(local, "_datasync", lambda fd: synced.append(os.fstat(fd).st_size))
    storage = LocalStorage(str(tmp_path), {})
    up = storage.open_upload("d/data")
    for number in range(5):
        up.write_part(number, number * 1000, bytes([number]) * 1000)
        up._wait_for_flush()  # one at a time, so the count below is exact
    up.complete()
    assert synced == [4000]  # after the fourth part; the fifth is left to complete()'s fsync
    assert storage.get("d/data") == b"".join(bytes([n]) * 1000 for n in range(5))


def test_a_failed_background_sync_fails_the_upload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Linux reports a writeback error to one sync call per open file: the final fsync alone could miss it."""
    import errno

    import freezer_storage_local as local

    def failing(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(local, "FLUSH_EVERY", 1000)
    monkeypatch.setattr(local, "_datasync", failing)
    storage = LocalStorage(str(tmp_path), {})
    up = storage.open_upload("d/data")
    up.write_part(0, 0, b"x" * 1000)
    with pytest.raises(StorageError, match="Input/output error"):
        up.complete()
    assert storage.size("d/data") is None
    assert list(tmp_path.rglob("*.part")) == []
