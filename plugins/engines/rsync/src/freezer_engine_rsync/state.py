"""Engine state: per-entry change keys and block signatures, streamed in walk order.

A level's state holds only what changed at that level: the entries of new
and changed paths (with their new signatures) and a deletion record for each
path that went away.  Level 0's state therefore lists everything, and an
increment's state is about as small as its data: re-storing the signatures
of every unchanged file at every level used to be most of an increment.

The next level needs the full picture, so :class:`ChainState` merges the
states of the chain (level 0 first) in walk order: every state is sorted the
same way, so a k-way merge where the highest level wins gives it in one
pass.  It is read once, front to back, while the next level walks the tree
in the same order (a merge join), and the new state is written as the walk
goes to an anonymous temporary file through zstd.  Nothing is ever held in
memory as a whole structure, so a million files cost what one entry per
level costs plus the compressed bytes the core hands over.

Version 1 states (every entry at every level, no deletion records) are
still read: such a state is a complete picture, so a chain's merge starts
from the newest complete state it holds.
"""

from __future__ import annotations

import heapq
import io
import struct
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import zstandard

from freezer_core.errors import EngineError, IntegrityError
from freezer_engine_rsync.format import (
    DELETE,
    DIR,
    END,
    FILE,
    HARDLINK,
    KEY,
    NODE,
    STATE_HEADER,
    STATE_HEADER_V1,
    STATE_MAGIC,
    STATE_VERSION,
    STATE_VERSION_FIELD,
    SYMLINK,
    U32,
    U64,
    Reader,
    blob,
    key_of,
)
from freezer_engine_rsync.signature import STRONG_SIZE, WEAK_SIZE

KINDS = frozenset((DIR, FILE, SYMLINK, HARDLINK, NODE))
NO_PARENT = bytes(16)
RESTART = "start a new chain with a level-0 backup"
_STATE_ZSTD = zstandard.ZstdCompressionParameters.from_level(3, window_log=19, hash_log=15, chain_log=15)
"""zstd for the state file: level 3 with level 1's window and small tables.

Why: the state sits beside the backup's whole pipeline.  On the 1 GiB
benchmark (8.5 MB of state) plain level 3 wrote 5.779 MB with 3.5 MiB of
compressor memory; these 5.784 MB with 1.5 MiB (level 1: 5.920 MB, 1.3 MiB).
"""


@dataclass(slots=True)
class StateEntry:
    """One path as a level saw it (or, with kind DELETE, the record that it went away)."""

    kind: int
    rel: bytes
    key: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    """(st_mode, size, mtime ns, ctime ns, inode): any difference means changed."""
    blocks: int = 0
    weak: bytes = b""
    strong: bytes = b""
    target: bytes = b""
    """For a hard link: the path it is linked to."""

    def encode(self) -> bytes:
        if self.kind == DELETE:
            return bytes((DELETE,)) + blob(self.rel)
        out = bytes((self.kind,)) + blob(self.rel) + KEY.pack(*self.key)
        if self.kind == FILE:
            out += self.blocks.to_bytes(4, "little") + self.weak + self.strong
        elif self.kind == HARDLINK:
            out += blob(self.target)
        return out


@dataclass(frozen=True)
class StateHeader:
    level: int
    block_size: int
    level_id: bytes
    parent_id: bytes = NO_PARENT
    complete: bool = True
    """The state lists every entry (level 0, or any level of format version 1)."""


class StateReader:
    """Decode one level's state lazily: ``header`` first, then entries in walk order."""

    def __init__(self, state: bytes, what: str = "the engine state of the previous level") -> None:
        try:
            chunks = zstandard.ZstdDecompressor().read_to_iter(io.BytesIO(state), write_size=1 << 20)
        except zstandard.ZstdError as exc:  # pragma: no cover - raised lazily in practice
            raise IntegrityError(f"{what} is corrupted ({exc}): {RESTART}") from None
        self._reader = Reader(_checked(chunks, what), what, IntegrityError)
        if self._reader.read(len(STATE_MAGIC)) != STATE_MAGIC:
            raise IntegrityError(f"{what} is not rsync engine state: {RESTART}")
        (version,) = STATE_VERSION_FIELD.unpack(self._reader.read(STATE_VERSION_FIELD.size))
        if version == 1:
            level, block_size, level_id = STATE_HEADER_V1.unpack(self._reader.read(STATE_HEADER_V1.size))
            self.header = StateHeader(level, block_size, level_id)
        elif version == STATE_VERSION:
            level, block_size, level_id, parent_id = STATE_HEADER.unpack(self._reader.read(STATE_HEADER.size))
            self.header = StateHeader(level, block_size, level_id, parent_id, complete=level == 0)
        else:
            raise IntegrityError(f"{what} has format version {version}, this engine reads 1 and {STATE_VERSION}: "
                                 f"upgrade freezer-engine-rsync or {RESTART}")
        self._deletes = version != 1

    def __iter__(self) -> Iterator[StateEntry]:
        # A state has an entry per file: fields are unpacked in place from the decompressed
        # buffer, which is three times faster than reading each one out through the Reader.
        what, deletes = self._reader.what, self._deletes
        buf, chunks = self._reader.detach()
        pos = count = 0
        more = True
        u32, key, new = U32.unpack_from, KEY.unpack_from, StateEntry  # locals: a hot loop
        try:
            while True:
                if more and len(buf) - pos < MARGIN:
                    buf, pos = _refill(buf, pos, chunks, MARGIN)
                    more = len(buf) >= MARGIN  # else all is read: no more copies of the tail
                kind = buf[pos]
                if kind == END:
                    if len(buf) - pos < 9:
                        buf, pos = _refill(buf, pos, chunks, 9)
                    if U64.unpack_from(buf, pos + 1)[0] != count or len(buf) > pos + 9 or any(chunks):
                        raise IntegrityError(f"{what} is corrupted (bad end record): {RESTART}")
                    return
                count += 1
                end = pos + 5 + u32(buf, pos + 1)[0]
                rel = buf[pos + 5 : end]  # checked where it matters, when a deletion is sent (backup.py)
                if kind == DELETE and deletes:
                    pos = end
                    yield new(DELETE, rel)
                    continue
                if kind not in KINDS:
                    raise IntegrityError(f"{what} is corrupted (record type {kind}): {RESTART}")
                entry = new(kind, rel, key(buf, end))
                end += KEY.size
                if kind == FILE:
                    entry.blocks = blocks = u32(buf, end)[0]
                    size = end + 4 + blocks * (WEAK_SIZE + STRONG_SIZE) - pos
                    if len(buf) - pos < size:
                        end -= pos
                        buf, pos = _refill(buf, pos, chunks, size)
                        end += pos
                    split = end + 4 + blocks * WEAK_SIZE
                    entry.weak, entry.strong = buf[end + 4 : split], buf[split : pos + size]
                    end = pos + size
                elif kind == HARDLINK:
                    target_end = end + 4 + u32(buf, end)[0]
                    entry.target = buf[end + 4 : target_end]  # only compared, never sent
                    end = target_end
                pos = end
                yield entry
        except (IndexError, struct.error):
            raise IntegrityError(f"{what} is truncated or corrupted: {RESTART}") from None


MARGIN = 1 << 16
"""Bytes kept decoded ahead of the parser: more than any entry but a large file's."""


def _refill(buf: bytes, pos: int, chunks: Iterator[bytes], need: int) -> tuple[bytes, int]:
    """``buf[pos:]`` extended with further chunks to at least ``need`` bytes (or all there is)."""
    parts, have = [buf[pos:]], len(buf) - pos
    while have < need:
        chunk = next(chunks, None)
        if chunk is None:
            break
        parts.append(chunk)
        have += len(chunk)
    return b"".join(parts), 0


def _checked(chunks: Iterator[bytes], what: str) -> Iterator[bytes]:
    try:
        yield from chunks
    except zstandard.ZstdError as exc:
        raise IntegrityError(f"{what} is corrupted ({exc}): {RESTART}") from None


class ChainState:
    """The entries as the last of a chain's levels saw them: its states merged, level 0 first.

    Only the states from the newest complete one up are read (a chain of
    version-1 states needs only its last).  The states must follow each other
    (each made on the one before it, same block size): a state from another
    chain would give wrong deltas, so it is refused, never merged.
    """

    def __init__(self, states: Sequence[bytes]) -> None:
        if not states:
            raise EngineError("the rsync engine was given no engine state for an increment: this is a bug")
        last = len(states) - 1
        readers: list[StateReader] = []
        for index in range(last, -1, -1):  # only decode the headers needed, from the newest down
            level = f"the engine state of level {index}" if len(states) > 1 else "the engine state of the parent"
            readers.insert(0, StateReader(states[index], level))
            if readers[0].header.complete:
                break
        else:
            raise IntegrityError("the engine states of the chain start with an increment (the rsync engine needs "
                                 f"every level's state, level 0 first): {RESTART}")
        for below, above in zip(readers, readers[1:], strict=False):
            b, a = below.header, above.header
            if a.parent_id != b.level_id or a.level != b.level + 1 or a.block_size != b.block_size:
                raise IntegrityError(f"the engine state of level {a.level} was not made on the state of level "
                                     f"{b.level} handed with it: {RESTART}")
        self.header = readers[-1].header
        self._readers = readers

    def __iter__(self) -> Iterator[StateEntry]:
        """The live entries (no deletion records) in walk order, each as its newest level has it.

        The first state is complete and large, the increments above it small: they are merged
        among themselves first, and that overlay is then joined with the first state's entries
        at one key comparison per entry, whatever the number of levels.
        """
        base, *increments = self._readers
        if not increments:
            yield from base  # complete: no deletion records
            return
        overlay = _overlay(increments)
        top = next(overlay, None)
        for entry in base:
            key = key_of(entry.rel)
            while top is not None and top[0] < key:
                if top[1].kind != DELETE:
                    yield top[1]
                top = next(overlay, None)
            if top is not None and top[0] == key:
                entry, top = top[1], next(overlay, None)
            if entry.kind != DELETE:
                yield entry
        while top is not None:
            if top[1].kind != DELETE:
                yield top[1]
            top = next(overlay, None)


def _overlay(readers: list[StateReader]) -> Iterator[tuple[bytes, StateEntry]]:
    """The increments' records (deletions included) in walk order, the highest level's for each path."""
    levels = [_keyed(reader, index) for index, reader in enumerate(readers)]
    pending: tuple[bytes, int, StateEntry] | None = None
    for item in heapq.merge(*levels, key=lambda item: item[:2]):
        if pending is not None and pending[0] != item[0]:
            yield pending[0], pending[2]
        pending = item  # same path: a higher level comes later and replaces it
    if pending is not None:
        yield pending[0], pending[2]


def _keyed(entries: StateReader, index: int) -> Iterator[tuple[bytes, int, StateEntry]]:
    for entry in entries:
        yield key_of(entry.rel), index, entry


class StateWriter:
    """Write the new state to an anonymous temporary file through zstd; ``finish`` returns its bytes."""

    def __init__(self, header: StateHeader) -> None:
        self._file = tempfile.TemporaryFile()
        self._zstd = zstandard.ZstdCompressor(compression_params=_STATE_ZSTD).stream_writer(self._file, closefd=False)
        self._count = 0
        self._zstd.write(STATE_MAGIC + STATE_VERSION_FIELD.pack(STATE_VERSION) + STATE_HEADER.pack(
            header.level, header.block_size, header.level_id, header.parent_id))

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
