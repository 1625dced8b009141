"""The byte layouts of the rsync engine: backup stream (version 1) and engine state (version 2).

Both are sequences of small records with fixed-width little-endian integers
and length-prefixed byte strings, so a reader never needs more than one
record in memory and a truncated stream is always noticed.  The full
specification is in docs/rsync-engine.md; this module is its only encoder and
decoder.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from freezer_core.errors import EngineError, FreezerError

STREAM_MAGIC = b"FRZRSYNC"
STATE_MAGIC = b"FRZRSYST"
VERSION = 1
"""Version of the backup stream."""
STATE_VERSION = 2
"""Version of the engine state: 2 holds only what changed at its level (1, still read, held everything)."""

STREAM_HEADER = struct.Struct("<HHI16s16s")
"""version, level, block size, id of this level, id of the level it was made on (zeros for level 0)."""
STATE_VERSION_FIELD = struct.Struct("<H")
STATE_HEADER_V1 = struct.Struct("<HI16s")
"""(after the version) level, block size, id of the level."""
STATE_HEADER = struct.Struct("<HI16s16s")
"""(after the version) level, block size, id of the level, id of the level it was made on (zeros for level 0)."""
META = struct.Struct("<IIIqq")
"""st_mode (type and permission bits), uid, gid, atime ns, mtime ns."""
KEY = struct.Struct("<IQqqQ")
"""What change detection compares: st_mode, size, mtime ns, ctime ns, inode."""
U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")
COPY = struct.Struct("<QI")

# stream record kinds
DIR, FILE, PATCH, SYMLINK, HARDLINK, NODE, DELETE, END = b"DFPSHNXZ"
# operations inside a PATCH record
OP_COPY, OP_LITERAL, OP_END = b"CLE"


@dataclass(frozen=True, slots=True)
class Meta:
    """What a restore puts back on an entry besides its content."""

    mode: int
    uid: int
    gid: int
    atime_ns: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Meta:
        return cls(st.st_mode, st.st_uid, st.st_gid, st.st_atime_ns, st.st_mtime_ns)

    def pack(self) -> bytes:
        return META.pack(self.mode, self.uid, self.gid, self.atime_ns, self.mtime_ns)

    @property
    def perms(self) -> int:
        return stat.S_IMODE(self.mode)


def blob(data: bytes) -> bytes:
    """A length-prefixed byte string."""
    return U32.pack(len(data)) + data


class Reader:
    """Exact reads over an iterable of chunks of any size, for decoding a stream record by record.

    Running out of data inside a record is an :class:`EngineError` naming
    ``what``: a truncated backup must never restore silently.
    """

    def __init__(self, chunks: Iterable[bytes], what: str, error: type[FreezerError] = EngineError) -> None:
        self._chunks = iter(chunks)
        self.error = error
        self._buf = b""
        self._pos = 0
        self.what = what

    def read(self, n: int) -> bytes:
        end = self._pos + n
        if end <= len(self._buf):
            data = self._buf[self._pos : end]
            self._pos = end
            return data
        parts = [self._buf[self._pos :]]
        have = len(parts[0])
        while have < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                raise self.error(f"{self.what} is truncated: the backup is incomplete or damaged")
            parts.append(chunk)
            have += len(chunk)
        joined = b"".join(parts)
        self._buf, self._pos = joined, n
        return joined[:n]

    def detach(self) -> tuple[bytes, Iterator[bytes]]:
        """The unread bytes and the rest of the chunks, for a decoder that parses in place.

        The reader must not be used afterwards.
        """
        rest, self._buf, self._pos = self._buf[self._pos :], b"", 0
        return rest, self._chunks

    def at_end(self) -> bool:
        """True when no byte is left (reads ahead one chunk if needed)."""
        while self._pos >= len(self._buf):
            chunk = next(self._chunks, None)
            if chunk is None:
                return True
            self._buf, self._pos = chunk, 0
        return False

    def u8(self) -> int:
        return self.read(1)[0]

    def u32(self) -> int:
        value: int = U32.unpack(self.read(4))[0]
        return value

    def u64(self) -> int:
        value: int = U64.unpack(self.read(8))[0]
        return value

    def blob(self, limit: int = 1 << 24) -> bytes:
        size = self.u32()
        if size > limit:
            raise self.error(f"{self.what} is corrupted (a {size}-byte field): the backup is damaged")
        return self.read(size)

    def path(self) -> bytes:
        rel = self.blob(limit=1 << 16)
        if not safe_path(rel):
            raise self.error(f"{self.what} is corrupted (unsafe path {rel!r}): the backup is damaged")
        return rel

    def meta(self) -> Meta:
        return Meta(*META.unpack(self.read(META.size)))


def safe_path(rel: bytes) -> bool:
    """A relative path that stays below the root (no ``..``, empty part or NUL) and fits a record."""
    if len(rel) > 1 << 16 or rel.startswith(b"/") or rel.endswith(b"/") or b"//" in rel or b"\0" in rel:
        return False
    return b".." not in rel or b".." not in rel.split(b"/")


def chunked(records: Iterable[bytes], size: int = 1 << 20) -> Iterator[bytes]:
    """Coalesce many small pieces into chunks of about ``size`` bytes for the pipeline."""
    out = bytearray()
    for piece in records:
        if len(piece) >= size // 2:
            if out:
                yield bytes(out)
                out.clear()
            yield piece
            continue
        out += piece
        if len(out) >= size:
            yield bytes(out)
            out.clear()
    if out:
        yield bytes(out)


def key_of(rel: bytes) -> bytes:
    """Sort key of a path: by components, which is the order of a sorted depth-first walk.

    ``/`` becomes NUL, which sorts below every byte a name can hold, so comparing keys
    compares component by component ("a/b" before "a-b") at the cost of one C call.
    """
    return rel.replace(b"/", b"\0")
