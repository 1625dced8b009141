"""Local storage: the container is a directory on a mounted file system.

Objects are files under the container directory, laid out exactly as
upstream Freezer lays them out, so either agent restores the other's
backups.  Large objects are written to a hidden temporary file beside their
final name and renamed into place on completion: a crashed backup leaves a
``.*.part`` file that no listing or restore ever picks up.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

from freezer_core.contract import ObjectInfo, Options, Storage, StorageProperties, Upload
from freezer_core.errors import ObjectNotFound, PermissionDenied, StorageError, StorageFull

__all__ = ["WRITE_PIECE", "LocalStorage"]

PART_SUFFIX = ".part"

WRITE_PIECE = 1 << 20
"""Most bytes one ``write`` call hands the kernel.

Why: Linux caches a file written in large calls in large folios, up to 2 MiB
ones, and a 2 MiB folio needs a free 2 MiB block of memory.  Those are the
blocks a virtual machine hands back to its host (free page reporting works on
2 MiB blocks), so every one is faulted in again by the host as it is filled.
Measured on our 2-CPU VM, 545 MB written in 8 MiB segments (``fsync`` at the
end): one call per segment took 0.56-1.69 s of system time, 1 MiB calls
0.16-0.20 s, 256 KiB calls 0.18-0.31 s.  ``zstd`` writes 128 KiB at a time.
"""


def _translate(exc: OSError, what: str) -> StorageError:
    """Turn an OS error into a Freezer error that tells the user what to do."""
    if exc.errno == errno.ENOSPC:
        return StorageFull(f"no space left on the device holding {what}: free some space "
                           f"or remove old backups (--action admin --remove-older-than DAYS)")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PermissionDenied(f"permission denied on {what}: check the container's owner and mode")
    if exc.errno == errno.ENOENT:
        return ObjectNotFound(f"{what} does not exist")
    return StorageError(f"cannot access {what}: {exc.strerror or exc}")


def _write_at(fd: int, data: bytes | memoryview, offset: int) -> None:
    """Write all of ``data`` at ``offset``, in calls of at most :data:`WRITE_PIECE` bytes."""
    view = memoryview(data)
    for start in range(0, len(view), WRITE_PIECE):
        piece = view[start:start + WRITE_PIECE]
        at = offset + start
        while piece:
            written = os.pwrite(fd, piece, at)
            piece, at = piece[written:], at + written


class LocalStorage(Storage):
    name = "local"

    def __init__(self, container: str, options: Options) -> None:
        super().__init__(container, options)
        self.root = Path(container).expanduser().absolute()

    def _path(self, name: str) -> Path:
        parts = [p for p in name.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise StorageError(f"invalid object name {name!r}")
        return self.root.joinpath(*parts)

    def put(self, name: str, data: bytes) -> None:
        path = self._path(name)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{PART_SUFFIX}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            try:
                _write_at(fd, data, 0)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _translate(exc, str(path)) from exc

    def open_upload(self, name: str) -> Upload:
        return _LocalUpload(self._path(name))

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        path = self._path(name)
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                return f.read() if length is None else f.read(length)
        except (IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(f"{path} is not a stored object") from None
        except OSError as exc:
            raise _translate(exc, str(path)) from exc

    def size(self, name: str) -> int | None:
        try:
            st = self._path(name).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise _translate(exc, name) from exc
        return None if stat.S_ISDIR(st.st_mode) else st.st_size

    def list(self, prefix: str) -> list[str]:
        path = self._path(prefix)
        try:
            return sorted(e.name for e in os.scandir(path) if not e.name.endswith(PART_SUFFIX))
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise _translate(exc, str(path)) from exc

    def walk(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base = self._path(prefix)
        if base.is_file():
            yield ObjectInfo(prefix, base.stat().st_size)
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for fn in sorted(filenames):
                if fn.endswith(PART_SUFFIX):
                    continue
                full = Path(dirpath, fn)
                yield ObjectInfo(full.relative_to(self.root).as_posix(), full.stat().st_size)

    def delete(self, name: str) -> None:
        path = self._path(name)
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except NotADirectoryError:
            return  # a parent is a file: nothing exists under this name
        except OSError as exc:
            raise _translate(exc, str(path)) from exc
        self._prune_empty_parents(path.parent)

    def _prune_empty_parents(self, directory: Path) -> None:
        """Remove directories left empty by a deletion, up to the container."""
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def properties(self) -> StorageProperties:
        return StorageProperties(connections=2, borrows_parts=True)  # write_part writes before it returns

    def is_permanent(self, exc: BaseException) -> bool:
        # A local disk does not heal by itself: never retry.
        return True


_START_WRITEBACK = getattr(os, "POSIX_FADV_DONTNEED", None)
"""Advice given for each written part: Linux starts writing it to disk at once and keeps it out of the cache.

Why: ``complete`` must ``fsync`` the object before it appears under its name;
without this the whole object (546 MB in the 1 GiB benchmark) is still dirty
then, and that flush was 0.66 s of waiting at the end of every backup.  Written
back part by part while later parts are compressed, the final ``fsync`` waits
for the last parts only (and, with :data:`FLUSH_EVERY`, for little of the
disk's cache).  Backup data is not read again soon, so dropping it from the
page cache also spares the cache of the programs the machine runs.
"""

FLUSH_EVERY = 64 << 20
"""Bytes an upload writes between two ``fdatasync`` calls made in the background.

Why: starting the writeback is not enough to make the final ``fsync`` short.
It also flushes the disk's write cache, and on a virtual disk that means the
host writing out everything the guest sent since the last flush.  Measured on
our 2-CPU VM, 528 MB written in 8 MiB parts at backup speed: the final
``fsync`` took 0.06-0.58 s; with an ``fdatasync`` every 64 MiB, in a thread
while the next parts are compressed, it took 0.02-0.03 s.
"""
_datasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


class _LocalUpload(Upload):
    """Parts are written at their offsets into a hidden file, renamed on completion.

    The file is private to the user running Freezer (0600): backup data may hold
    secrets even when it is not encrypted.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{PART_SUFFIX}")
        self._lock = threading.Lock()
        self._unflushed = 0
        self._flusher: threading.Thread | None = None
        self._flush_error: OSError | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            raise _translate(exc, str(path)) from exc

    def _flush_in_background(self, written: int) -> None:
        """Every :data:`FLUSH_EVERY` bytes, ``fdatasync`` in a thread unless one still runs."""
        with self._lock:
            self._unflushed += written
            if self._unflushed < FLUSH_EVERY or (self._flusher is not None and self._flusher.is_alive()):
                return
            self._unflushed = 0
            self._flusher = threading.Thread(target=self._flush, name="freezer-local-flush", daemon=True)
            self._flusher.start()

    def _flush(self) -> None:
        try:
            _datasync(self.fd)
        except OSError as exc:
            # Kept for complete(): Linux reports a writeback error to one sync call
            # per open file only, so the final fsync could succeed after this failed.
            self._flush_error = self._flush_error or exc

    def _wait_for_flush(self) -> None:
        with self._lock:
            flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.join()

    def write_part(self, number: int, offset: int, data: bytes | memoryview) -> None:
        try:
            _write_at(self.fd, data, offset)
        except OSError as exc:
            raise _translate(exc, str(self.path)) from exc
        if _START_WRITEBACK is not None:
            with contextlib.suppress(OSError):  # advice only: a file system may not take it
                os.posix_fadvise(self.fd, offset, len(data), _START_WRITEBACK)
        self._flush_in_background(len(data))

    def complete(self) -> None:
        self._wait_for_flush()
        try:
            if self._flush_error is not None:
                raise self._flush_error
            os.fsync(self.fd)
            os.close(self.fd)
            self.fd = -1
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self.abort()
            raise _translate(exc, str(self.path)) from exc

    def abort(self) -> None:
        self._wait_for_flush()  # never close the descriptor under a running fdatasync
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.tmp.unlink(missing_ok=True)

