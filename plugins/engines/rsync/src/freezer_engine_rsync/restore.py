"""The restore side: apply one level's records to the target directory.

Every file is rebuilt in a temporary file next to it and renamed into place
only once its checksum matches the backup's, so a corrupted or mismatched
increment never leaves a half-written file behind the real name.  Directory
permissions and times are applied last, deepest first, because writing into a
directory changes its mtime; directories this level only writes into get
their previous times back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable
from typing import BinaryIO

from freezer_core.errors import EngineError
from freezer_engine_rsync.format import (
    COPY,
    DELETE,
    DIR,
    END,
    FILE,
    HARDLINK,
    NODE,
    OP_COPY,
    OP_END,
    OP_LITERAL,
    PATCH,
    STREAM_HEADER,
    STREAM_MAGIC,
    SYMLINK,
    VERSION,
    Meta,
    Reader,
)
from freezer_engine_rsync.signature import DIGEST_SIZE, READ_SIZE, Signer

log = logging.getLogger("freezer.engine.rsync")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


class LevelRestore:
    """Applies one level; ``run`` returns the level's id so the next level can check it follows."""

    def __init__(self, target: bytes, level: int, *, dry_run: bool, parent_id: bytes | None) -> None:
        self.target = target
        self.level = level
        self.dry_run = dry_run
        self.parent_id = parent_id
        self.block_size = 0
        self._dirs: list[tuple[bytes, Meta]] = []
        self._touched: dict[bytes, tuple[int, int]] = {}

    def run(self, chunks: Iterable[bytes]) -> bytes:
        r = Reader(chunks, f"rsync backup level {self.level}")
        if r.read(len(STREAM_MAGIC)) != STREAM_MAGIC:
            raise EngineError(f"backup level {self.level} is not an rsync engine stream: it is damaged, "
                              f"was not decrypted, or was made by another engine")
        version, level, self.block_size, level_id, parent_id = STREAM_HEADER.unpack(r.read(STREAM_HEADER.size))
        if version != VERSION:
            raise EngineError(f"backup level {self.level} has rsync format version {version}; this engine "
                              f"reads version {VERSION}: upgrade freezer-engine-rsync")
        if level != self.level or not self.block_size:
            raise EngineError(f"backup level {self.level} holds rsync level {level}: the backup is damaged "
                              f"or an increment is missing")
        if self.parent_id is not None and parent_id != self.parent_id:
            raise EngineError(f"backup level {level} was not made on top of the level restored before it: "
                              f"an increment is missing or belongs to another chain; restore from an "
                              f"earlier date or make a new level-0 backup")
        count = 0
        handlers = {DIR: self._dir, FILE: self._file, PATCH: self._patch, SYMLINK: self._symlink,
                    HARDLINK: self._hardlink, NODE: self._node, DELETE: self._delete}
        while True:
            kind = r.u8()
            if kind == END:
                break
            handler = handlers.get(kind)
            if handler is None:
                raise EngineError(f"backup level {self.level} is corrupted (unknown record {kind}): the "
                                  f"backup is damaged")
            handler(r, r.path())
            count += 1
        if r.u64() != count or not r.at_end():
            raise EngineError(f"backup level {self.level} is corrupted (its end record does not match): the "
                              f"backup is damaged")
        if not self.dry_run:
            self._finish_dirs()
        result: bytes = level_id
        return result

    # ------------------------------------------------------------ records

    def _dest(self, rel: bytes) -> bytes:
        return os.path.join(self.target, rel) if rel else self.target

    def _dir(self, r: Reader, rel: bytes) -> None:
        meta = r.meta()
        if self.dry_run:
            log.info("dir  %s", os.fsdecode(rel or b"."))
            return
        path = self._dest(rel)
        if rel:
            self._parent(path)
            if not os.path.isdir(path) or os.path.islink(path):
                _clear(path)
                os.mkdir(path, 0o700)
        else:
            os.makedirs(path, exist_ok=True)
        self._dirs.append((path, meta))

    def _file(self, r: Reader, rel: bytes) -> None:
        meta, _size = r.meta(), r.u64()
        signer = Signer(self.block_size or 1, weak=False)
        if self.dry_run:
            log.info("file %s", os.fsdecode(rel))
            while size := r.u32():
                signer.update(r.read(size))
            self._check(signer, r.read(DIGEST_SIZE), rel)
            return

        def write(out: BinaryIO) -> None:
            while size := r.u32():
                data = r.read(size)
                signer.update(data)
                out.write(data)
            self._check(signer, r.read(DIGEST_SIZE), rel)

        self._rebuild(rel, meta, write)

    def _patch(self, r: Reader, rel: bytes) -> None:
        meta, _size = r.meta(), r.u64()
        signer = Signer(self.block_size, weak=False)
        path = self._dest(rel)
        if self.dry_run:
            log.info("diff %s", os.fsdecode(rel))
        try:
            basis = None if self.dry_run else open(path, "rb")  # noqa: SIM115 - closed in finally
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise EngineError(f"backup level {self.level} changes {os.fsdecode(rel)}, which the earlier levels "
                              f"did not restore: restore all levels in order into the same directory") from None

        def write(out: BinaryIO | None) -> None:
            while True:
                op = r.u8()
                if op == OP_END:
                    expected = r.read(DIGEST_SIZE)
                    if basis is not None:
                        self._check(signer, expected, rel)
                    return
                if op == OP_LITERAL:
                    data = r.read(r.u32())
                elif op == OP_COPY and basis is not None:
                    index, blocks = COPY.unpack(r.read(COPY.size))
                    self._copy(basis, index, blocks, rel, signer, out)
                    continue
                elif op == OP_COPY:
                    r.read(COPY.size)
                    continue
                else:
                    raise EngineError(f"backup level {self.level} is corrupted (bad delta of "
                                      f"{os.fsdecode(rel)}): the backup is damaged")
                signer.update(data)
                if out is not None:
                    out.write(data)

        try:
            if basis is None:
                write(None)
            else:
                self._rebuild(rel, meta, write)
        finally:
            if basis is not None:
                basis.close()

    def _copy(self, basis: BinaryIO, index: int, blocks: int, rel: bytes, signer: Signer,
              out: BinaryIO | None) -> None:
        basis.seek(index * self.block_size)
        left = blocks * self.block_size
        while left:
            data = basis.read(min(left, READ_SIZE))
            if not data:
                raise EngineError(f"{os.fsdecode(rel)} as restored by the earlier levels is not the file "
                                  f"backup level {self.level} was made from: an increment is missing or "
                                  f"the restored tree was changed")
            left -= len(data)
            signer.update(data)
            if out is not None:
                out.write(data)

    def _symlink(self, r: Reader, rel: bytes) -> None:
        meta, link = r.meta(), r.blob(limit=1 << 16)
        if self.dry_run:
            log.info("link %s -> %s", os.fsdecode(rel), os.fsdecode(link))
            return
        path = self._dest(rel)
        self._parent(path)
        _clear(path)
        os.symlink(link, path)
        _apply(path, meta, link=True)

    def _hardlink(self, r: Reader, rel: bytes) -> None:
        other = r.path()
        if self.dry_run:
            log.info("hard %s => %s", os.fsdecode(rel), os.fsdecode(other))
            return
        path = self._dest(rel)
        self._parent(path)
        _clear(path)
        try:
            os.link(self._dest(other), path, follow_symlinks=False)
        except FileNotFoundError:
            raise EngineError(f"backup level {self.level} links {os.fsdecode(rel)} to {os.fsdecode(other)}, "
                              f"which is not in the restored tree: restore all levels in order") from None

    def _node(self, r: Reader, rel: bytes) -> None:
        meta, rdev = r.meta(), r.u64()
        if self.dry_run:
            log.info("node %s", os.fsdecode(rel))
            return
        path = self._dest(rel)
        self._parent(path)
        _clear(path)
        try:
            if stat.S_ISFIFO(meta.mode):
                os.mkfifo(path, 0o600)
            else:
                os.mknod(path, stat.S_IFMT(meta.mode) | 0o600, rdev)
        except PermissionError:
            log.warning("%s: device nodes can only be restored by root, skipped", os.fsdecode(path))
            return
        _apply(path, meta)

    def _delete(self, r: Reader, rel: bytes) -> None:
        if self.dry_run:
            log.info("del  %s", os.fsdecode(rel))
            return
        path = self._dest(rel)
        if os.path.lexists(path):
            self._parent(path)
            _clear(path)

    # ------------------------------------------------------------ helpers

    def _check(self, signer: Signer, expected: bytes, rel: bytes) -> None:
        if signer.finish()[3] != expected:
            raise EngineError(f"{os.fsdecode(rel)} from backup level {self.level} does not match its checksum: "
                              f"the backup is damaged, or the earlier levels restored are not the ones this "
                              f"increment was made on")

    def _rebuild(self, rel: bytes, meta: Meta, write: Callable[[BinaryIO], None]) -> None:
        """Write a file into a temporary name beside it, then rename it over the old one."""
        path = self._dest(rel)
        parent = self._parent(path)
        fd, tmp = tempfile.mkstemp(prefix=b".frzrsync-", dir=parent)
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                if IS_ROOT:
                    os.fchown(out.fileno(), meta.uid, meta.gid)
                os.fchmod(out.fileno(), meta.perms)
            os.utime(tmp, ns=(meta.atime_ns, meta.mtime_ns))
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _parent(self, path: bytes) -> bytes:
        """Make sure the parent directory exists and remember its times before writing into it."""
        parent = os.path.dirname(path)
        if parent not in self._touched:
            try:
                st = os.stat(parent)
            except FileNotFoundError:
                os.makedirs(parent, exist_ok=True)
                st = os.stat(parent)
            self._touched[parent] = (st.st_atime_ns, st.st_mtime_ns)
        return parent

    def _finish_dirs(self) -> None:
        recorded = {path for path, _ in self._dirs}
        for path, times in self._touched.items():
            if path not in recorded and os.path.isdir(path):
                os.utime(path, ns=times)
        for path, meta in reversed(self._dirs):
            _apply(path, meta)


def _apply(path: bytes, meta: Meta, *, link: bool = False) -> None:
    if IS_ROOT:
        try:
            os.chown(path, meta.uid, meta.gid, follow_symlinks=False)
        except OSError as exc:
            log.warning("cannot set the owner of %s: %s", os.fsdecode(path), exc.strerror)
    if not link:
        os.chmod(path, meta.perms)
    os.utime(path, ns=(meta.atime_ns, meta.mtime_ns), follow_symlinks=False)


def _clear(path: bytes) -> None:
    """Remove whatever is at ``path`` (a directory with its content); nothing there is fine."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)

