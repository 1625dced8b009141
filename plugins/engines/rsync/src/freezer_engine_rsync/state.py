"""Engine state: per-entry change keys and block signatures, streamed in walk order.

The state of a level is read once, front to back, while the next level walks
the tree in the same order (a merge join), and the new state is written as the
walk goes to an anonymous temporary file through zstd.  Neither is ever held
in memory as a whole structure, so a million files cost what one entry costs
plus the compressed bytes the core hands over.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import zstandard

from freezer_core.errors import EngineError, IntegrityError
from freezer_engine_rsync.format import (
    DIR,
    END,
    FILE,
    HARDLINK,
    KEY,
    NODE,
    STATE_HEADER,
    STATE_MAGIC,
    SYMLINK,
    U32,
    U64,
    VERSION,
    Reader,
    blob,
)
from freezer_engine_rsync.signature import STRONG_SIZE, WEAK_SIZE

KINDS = frozenset((DIR, FILE, SYMLINK, HARDLINK, NODE))


@dataclass(slots=True)
class StateEntry:
    """One path as the previous level saw it."""

    kind: int
    rel: bytes
    key: tuple[int, int, int, int, int]
    """(st_mode, size, mtime ns, ctime ns, inode): any difference means changed."""
    blocks: int = 0
    weak: bytes = b""
    strong: bytes = b""
    target: bytes = b""
    """For a hard link: the path it is linked to."""

    def encode(self) -> bytes:
        out = bytes((self.kind,)) + blob(self.rel) + KEY.pack(*self.key)
        if self.kind == FILE:
            out += U32.pack(self.blocks) + self.weak + self.strong
        elif self.kind == HARDLINK:
            out += blob(self.target)
        return out


@dataclass(frozen=True)
class StateHeader:
    level: int
    block_size: int
    level_id: bytes


class StateReader:
    """Decode a level's state lazily: ``header`` first, then entries in walk order."""

    def __init__(self, state: bytes) -> None:
        what = "the engine state of the previous level"
        try:
            chunks = zstandard.ZstdDecompressor().read_to_iter(io.BytesIO(state), write_size=1 << 20)
        except zstandard.ZstdError as exc:  # pragma: no cover - raised lazily in practice
            raise IntegrityError(f"{what} is corrupted ({exc}): start a new chain with a level-0 backup") from None
        self._reader = Reader(_checked(chunks, what), what, IntegrityError)
        if self._reader.read(len(STATE_MAGIC)) != STATE_MAGIC:
            raise IntegrityError(f"{what} is not rsync engine state: start a new chain with a level-0 backup")
        version, level, block_size, level_id = STATE_HEADER.unpack(self._reader.read(STATE_HEADER.size))
        if version != VERSION:
            raise IntegrityError(f"{what} has format version {version}, this engine reads {VERSION}: "
                                 f"upgrade freezer-engine-rsync or start a new chain")
        self.header = StateHeader(level, block_size, level_id)

    def __iter__(self) -> Iterator[StateEntry]:
        r = self._reader
        count = 0
        while True:
            kind = r.u8()
            if kind == END:
                if r.u64() != count or not r.at_end():
                    raise IntegrityError(f"{r.what} is corrupted (bad end record): start a new chain")
                return
            if kind not in KINDS:
                raise IntegrityError(f"{r.what} is corrupted (record type {kind}): start a new chain")
            entry = StateEntry(kind, r.path(), KEY.unpack(r.read(KEY.size)))
            if kind == FILE:
                entry.blocks = r.u32()
                entry.weak = r.read(entry.blocks * WEAK_SIZE)
                entry.strong = r.read(entry.blocks * STRONG_SIZE)
            elif kind == HARDLINK:
                entry.target = r.path()
            count += 1
            yield entry


def _checked(chunks: Iterator[bytes], what: str) -> Iterator[bytes]:
    try:
        yield from chunks
    except zstandard.ZstdError as exc:
        raise IntegrityError(f"{what} is corrupted ({exc}): start a new chain with a level-0 backup") from None


class StateWriter:
    """Write the new state to an anonymous temporary file through zstd; ``finish`` returns its bytes."""

    def __init__(self, header: StateHeader) -> None:
        self._file = tempfile.TemporaryFile()
        self._zstd = zstandard.ZstdCompressor(level=3).stream_writer(self._file, closefd=False)
        self._count = 0
        self._zstd.write(STATE_MAGIC + STATE_HEADER.pack(VERSION, header.level, header.block_size,
                                                         header.level_id))

    def add(self, entry: StateEntry) -> None:
        self._zstd.write(entry.encode())
        self._count += 1

    def finish(self) -> bytes:
        self._zstd.write(bytes((END,)) + U64.pack(self._count))
        self._zstd.flush(zstandard.FLUSH_FRAME)
        self._file.seek(0)
        data = self._file.read()
        self.close()
        return data

    def close(self) -> None:
        try:
            self._zstd.close()
        except (ValueError, zstandard.ZstdError, EngineError):
            pass
        self._file.close()
