"""Streaming compression: gzip, bzip2, xz, zstd, or none.

The formats are the standard ones, so an operator can read a backup with the
usual tools (``gzip -d``, ``tar -z``, ``xz -d``, ``zstd -d``) and backups made
by upstream Freezer (``tar -z``/``-j``/``-J``) restore unchanged.

gzip uses ISA-L (``isal.isal_zlib``) when it is installed: the same gzip
format several times faster.  ISA-L has levels 0-3 instead of zlib's 0-9, so
zlib levels are mapped onto it (the default 6 becomes ISA-L's default 2, whose
output is within about 1% of ``gzip -6``).  The stream is cut into blocks of
:data:`FRAME_SIZE` compressed as independent gzip members on every CPU
(as ``pigz --independent`` does): concatenated members are one valid gzip file
for ``gzip -d``, ``tar -z``, Python's ``gzip`` module and upstream Freezer.

zstd is cut the same way, into independent standard frames of at least
:data:`FRAME_SIZE` (a frame at least one window long, so cutting costs
~0.3% of size at level 1) compressed on every CPU; ``zstd -d`` reads
concatenated frames as one stream.  The default level is 1, the level
``zstd -1`` runs at, which is what keeps a backup at the speed of
``tar | zstd -1`` (level 3 costs about three times the CPU for 5-10% smaller
output; see ``docs/performance.md``).

Decompressors accept concatenated members/streams/frames, as the command
line tools do, and trailing zero padding (tape and ``dd`` leave it).  Any
other damage -- garbage, a bad checksum, a stream cut short -- raises
:class:`~freezer_core.errors.IntegrityError`; truncation can only be seen when
the input ends, so :meth:`finish` is where it is reported.

Decompressed output is produced in pieces of at most :data:`OUTPUT_LIMIT`
bytes through ``update_iter``/``finish_iter`` (see :mod:`freezer_core.pipeline`):
a few kilobytes of compressed zeros may stand for gigabytes.
"""

from __future__ import annotations

import bz2
import lzma
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from types import ModuleType
from typing import Any

import zstandard

from freezer_core.errors import IntegrityError, ValidationError
from freezer_core.pipeline import Passthrough, Transform, worker_count, worker_pool

try:  # pragma: no cover - depends on the environment
    from isal import isal_zlib as _isal_zlib
except ImportError:  # pragma: no cover - depends on the environment
    _isal_zlib = None

__all__ = ["COMPRESSIONS", "OUTPUT_LIMIT", "compressor", "decompressor"]

COMPRESSIONS = ("gzip", "bzip2", "xz", "zstd", "none")
OUTPUT_LIMIT = 1 << 20
"""Largest piece a decompressor yields at once (bounds restore memory)."""

GZIP_DEFAULT_LEVEL = 6
GZIP_DENSE_LEVEL = 9  # increments (``favour_size``): 1 MiB members ~1% smaller than one ``gzip -6`` stream
ZSTD_DEFAULT_LEVEL = 1
FRAME_SIZE = 1 << 20
"""Input bytes per gzip member or zstd frame: restarting the window costs ~0.1% (gzip), ~0.3% (zstd -1)."""
_ZSTD_FRAME_LIMIT = 8 << 20  # frames follow a larger window up to this, so high levels keep most matches
_IN_FLIGHT_BYTES = 2 * FRAME_SIZE  # input queued per CPU: keeps every CPU busy, bounds memory to a few MiB
_INPUT_SLICE = 256 << 10  # decompressor input per call, so ``unconsumed_tail`` copies stay small
_GZIP_WBITS = 31  # 16 + 15: a gzip header and trailer around a deflate stream
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ZSTD_BLOCK_HEADER = 3
_ZSTD_BLOCK_MAX = 128 << 10  # the most a zstd block decompresses to
_ZSTD_BLOCKS_PER_STEP = OUTPUT_LIMIT // _ZSTD_BLOCK_MAX
_STREAM_MAGICS = {"gzip": b"\x1f", "bzip2": b"B", "xz": b"\xfd"}


def gzip_backend() -> ModuleType:
    """The zlib-compatible module used for gzip: ISA-L when installed, else zlib."""
    return _isal_zlib if _isal_zlib is not None else zlib


def _check_name(name: str) -> None:
    if name not in COMPRESSIONS:
        raise ValidationError(f"unknown compression '{name}': choose one of {', '.join(COMPRESSIONS)}")


def _corrupted(name: str, detail: object) -> IntegrityError:
    return IntegrityError(
        f"{name} compressed data is corrupted or truncated ({detail}): the backup cannot be restored"
    )


# ---------------------------------------------------------------- compressors


class _Compressor:
    """Adapts a ``compress``/``flush`` object from the standard library or zstandard."""

    def __init__(self, compress: Callable[[bytes], bytes], flush: Callable[[], bytes]) -> None:
        self._compress = compress
        self._flush = flush

    def update(self, data: bytes) -> bytes:
        return self._compress(data)

    def finish(self) -> bytes:
        return self._flush()


class _Joined:
    """``update``/``finish`` for a transform that natively yields pieces."""

    def update_iter(self, data: bytes) -> Iterator[bytes]:
        raise NotImplementedError

    def finish_iter(self) -> Iterator[bytes]:
        raise NotImplementedError

    def update(self, data: bytes) -> bytes:
        return b"".join(self.update_iter(data))

    def finish(self) -> bytes:
        return b"".join(self.finish_iter())


class _ParallelFrames(_Joined):
    """Independent frames (gzip members, zstd frames) compressed on the shared worker pool, output in order.

    Why: a single deflate or zstd stream runs on one CPU (zstd's own worker
    threads copy every byte into their buffers and wait on each other, which
    measured 12-18% slower than this on two cores).  zlib, ISA-L and zstd
    release the GIL, so threads give every CPU a block, and the frames join
    into one valid stream for ``gzip -d``/``zstd -d``.  About two frames per
    CPU are in flight; ``update`` returns the frames already finished, in order.
    """

    def __init__(self, compress: Callable[[bytes], bytes], block_size: int = FRAME_SIZE) -> None:
        self._compress = compress
        self._block_size = block_size
        self._buf = bytearray()
        self._pending: deque[Future[bytes]] = deque()
        self._frames = 0
        self._pool = worker_pool()
        self._limit = max(1, _IN_FLIGHT_BYTES // block_size) * worker_count()

    def _submit(self, block: bytes) -> None:
        self._pending.append(self._pool.submit(self._compress, block))
        self._frames += 1

    def _ready(self, wait_for: int) -> Iterator[bytes]:
        """Finished frames from the head; wait while more than ``wait_for`` are in flight."""
        pending = self._pending
        while pending and (len(pending) > wait_for or pending[0].done()):
            yield pending.popleft().result()

    def update_iter(self, data: bytes) -> Iterator[bytes]:
        size = self._block_size
        buf = self._buf
        if not buf and len(data) == size and isinstance(data, bytes):  # a whole block: no copy
            self._submit(data)
            yield from self._ready(self._limit)
            return
        view = memoryview(data)
        if buf:
            take = size - len(buf)
            buf += view[:take]
            view = view[take:]
            if len(buf) < size:
                return
            self._submit(bytes(buf))
            buf.clear()
            yield from self._ready(self._limit)
        while len(view) >= size:
            self._submit(bytes(view[:size]))
            view = view[size:]
            yield from self._ready(self._limit)
        buf += view
        yield from self._ready(self._limit)

    def finish_iter(self) -> Iterator[bytes]:
        if self._buf or not self._frames:  # an empty stream is still one (empty) frame
            self._submit(bytes(self._buf))
            self._buf.clear()
        yield from self._ready(0)


def _zstd_frames(level: int | None) -> _ParallelFrames:
    """zstd frames of at least one window each, compressed by one zstd context per pool thread.

    A context is reused for every frame its thread compresses (creating one
    allocates its tables), and is never shared: zstd contexts are not
    thread-safe.  Each frame carries its content size and checksum.
    """
    chosen = ZSTD_DEFAULT_LEVEL if level is None else level
    window = 1 << zstandard.ZstdCompressionParameters.from_level(chosen).window_log
    contexts = threading.local()

    def frame(block: bytes) -> bytes:
        cctx = getattr(contexts, "cctx", None)
        if cctx is None:
            cctx = contexts.cctx = zstandard.ZstdCompressor(level=chosen, write_checksum=True)
        out: bytes = cctx.compress(block)
        return out

    return _ParallelFrames(frame, max(FRAME_SIZE, min(window, _ZSTD_FRAME_LIMIT)))


def compressor(name: str, level: int | None = None, *, favour_size: bool = False) -> Transform:
    """A compressing transform for ``name`` (one of :data:`COMPRESSIONS`).

    ``level`` uses each tool's own scale; None means the tool's default
    (gzip 6, bzip2 9, xz 6, zstd 1).  ``favour_size`` trades CPU for size
    where that is cheap: gzip then runs zlib at level 9 (unless a level is
    given) instead of ISA-L, whose levels write ~4% more (~14% more on logs)
    at a tenth of the CPU; on the benchmark's data, 1 MiB members at zlib 9
    are 1.2% smaller than one ``gzip -6`` stream for 2.2 x its CPU.  A backup
    asks for it on incremental levels: they are small, so speed matters less,
    and they are kept as long as their chain (see ``docs/performance.md``).
    """
    _check_name(name)
    if level is not None and not (0 <= level <= (22 if name == "zstd" else 9)):
        raise ValidationError(f"compression level {level} is out of range for {name}: use 0-9 (zstd: 0-22)")
    if name == "gzip":
        backend = zlib if favour_size else gzip_backend()
        zlevel = level if level is not None else GZIP_DENSE_LEVEL if favour_size else GZIP_DEFAULT_LEVEL
        if backend is not zlib:
            zlevel = 0 if zlevel == 0 else min(3, (zlevel + 2) // 3)
        compress = backend.compress

        def member(block: bytes) -> bytes:
            out: bytes = compress(block, zlevel, _GZIP_WBITS)
            return out

        return _ParallelFrames(member)
    if name == "bzip2":
        bz = bz2.BZ2Compressor(9 if level is None else max(1, level))
        return _Compressor(bz.compress, bz.flush)
    if name == "xz":
        xz = lzma.LZMACompressor(format=lzma.FORMAT_XZ, preset=6 if level is None else level)
        return _Compressor(xz.compress, xz.flush)
    if name == "zstd":
        return _zstd_frames(level)
    return Passthrough()


# ---------------------------------------------------------------- decompressors


class _MemberDecompressor(_Joined):
    """gzip, bzip2 and xz: a sequence of members, each a standard decompress object.

    zlib-style objects report leftover input in ``unconsumed_tail``; bz2/lzma
    ones keep it inside and say ``needs_input``.  Both honour ``max_length``.
    """

    def __init__(
        self, name: str, factory: Callable[[], Any], errors: tuple[type[BaseException], ...]
    ) -> None:
        self._name = name
        self._factory = factory
        self._errors = errors
        self._obj: Any = None
        self._members = 0
        self._padding = False

    def _start_member(self, data: bytes) -> bool:
        """Between members: True when ``data`` starts a new one, False for zero padding."""
        if self._padding or (self._members and data[0] == 0):
            if data.count(0) != len(data):
                raise _corrupted(self._name, "unexpected data after the end of the stream")
            self._padding = True
            return False
        if data[:1] != _STREAM_MAGICS[self._name]:
            where = "at the start" if not self._members else "after the end of the stream"
            raise _corrupted(self._name, f"unexpected data {where}")
        self._obj = self._factory()
        return True

    def update_iter(self, data: bytes) -> Iterator[bytes]:
        # Big inputs (a whole 32 MiB segment) go in slices: each call with max_length
        # copies the input it did not consume, which would be quadratic in the input.
        if len(data) <= _INPUT_SLICE:
            yield from self._update(data)
            return
        view = memoryview(data)
        for start in range(0, len(view), _INPUT_SLICE):
            yield from self._update(bytes(view[start : start + _INPUT_SLICE]))

    def _update(self, data: bytes) -> Iterator[bytes]:
        pending = False
        while data or pending:
            if self._obj is None and not self._start_member(data):
                return
            obj = self._obj
            try:
                out = obj.decompress(data, OUTPUT_LIMIT)
            except self._errors as exc:
                raise _corrupted(self._name, exc) from None
            if hasattr(obj, "unconsumed_tail"):
                data, pending = obj.unconsumed_tail, False
            else:
                data, pending = b"", not obj.needs_input
            if out:
                yield out
            if obj.eof:
                data, pending = obj.unused_data, False
                self._obj = None
                self._members += 1

    def finish_iter(self) -> Iterator[bytes]:
        obj = self._obj
        if obj is not None:
            if hasattr(obj, "flush"):
                try:
                    out = obj.flush()
                except self._errors as exc:
                    raise _corrupted(self._name, exc) from None
                if out:
                    yield out
            if not obj.eof:
                raise _corrupted(self._name, "the stream ends before its end marker")
            self._members += 1
        if not self._members:
            raise _corrupted(self._name, "no data")


class _ZstdDecompressor(_Joined):
    """zstd, fed whole blocks so that each step's output is at most :data:`OUTPUT_LIMIT`.

    zstandard's streaming object has no ``max_length``, so the frame format
    is walked here: frame header, blocks (3-byte headers), optional checksum;
    skippable frames are skipped.  Walking frames also tells exactly whether
    the input stopped in the middle of one.
    """

    def __init__(self) -> None:
        self._dctx = zstandard.ZstdDecompressor()
        self._buf = bytearray()
        self._obj: Any = None
        self._need = 0  # bytes of the current item still expected, once known
        self._state = "frame"  # frame | header | block | checksum | skip
        self._checksum = False
        self._frames = 0
        self._padding = False
        self._size_bytes = 0  # of the current frame's content size field
        self._content = 0  # the current frame's content size, when its header gives it

    def _take(self, size: int) -> bytes:
        piece = bytes(self._buf[:size])
        del self._buf[:size]
        return piece

    def _feed(self, data: bytes) -> bytes:
        try:
            return bytes(self._obj.decompress(data))
        except zstandard.ZstdError as exc:
            raise _corrupted("zstd", exc) from None

    def _end_frame(self) -> None:
        if not self._obj.eof:
            raise _corrupted("zstd", "a frame does not end where its blocks say")
        self._obj = None
        self._frames += 1
        self._state = "frame"

    def _step(self) -> bytes | None:
        """Consume one item from the buffer; None when more input is needed."""
        buf = self._buf
        if self._state == "frame":
            if self._padding or (self._frames and buf[0] == 0):
                if buf.count(0) != len(buf):
                    raise _corrupted("zstd", "unexpected data after the end of the stream")
                self._padding = True
                buf.clear()
                return None
            if len(buf) < 8:  # every frame is longer than this
                return None
            magic = bytes(buf[:4])
            if magic == _ZSTD_MAGIC:
                descriptor = buf[4]
                if descriptor & 0x08:
                    raise _corrupted("zstd", "reserved bit set in a frame header")
                single = (descriptor >> 5) & 1
                self._size_bytes = ((1 if single else 0), 2, 4, 8)[descriptor >> 6]
                size = 5 + (0 if single else 1) + (0, 1, 2, 4)[descriptor & 3] + self._size_bytes
                self._checksum = bool(descriptor & 0x04)
                self._state, self._need = "header", size
            elif magic[1:] == b"\x2a\x4d\x18" and magic[0] & 0xF0 == 0x50:
                self._state, self._need = "skip", 8 + int.from_bytes(buf[4:8], "little")
            else:
                where = "after the end of the stream" if self._frames else "at the start"
                raise _corrupted("zstd", f"unexpected data {where}")
            return b""
        if self._state == "block":
            return self._blocks()
        if len(buf) < self._need:
            return None
        if self._state == "header":
            end = self._whole_frame_end()
            if end == 0:
                return None
            if end > 0:
                return self._whole_frame(end)
            self._obj = self._dctx.decompressobj()
        piece = self._take(self._need)
        self._need = 0
        if self._state == "skip":
            self._frames += 1
            self._state = "frame"
            return b""
        out = self._feed(piece)
        if self._state == "header":
            self._state = "block"
        elif self._state == "checksum":
            self._end_frame()
        return out

    def _whole_frame_end(self) -> int:
        """Where a frame to decompress in one call ends; 0 if not all buffered yet, -1 to walk it.

        Why one call: Freezer writes 1 MiB frames, and one call per frame
        saves the streaming object's copy of its output and the copy of each
        piece of input (about 2 GiB of ``memmove`` in a 1 GiB restore).  Only
        a frame whose header gives a content size up to :data:`OUTPUT_LIMIT`
        qualifies, so output stays bounded; others are walked block by block.
        """
        buf, end = self._buf, self._need
        if not self._size_bytes:
            return -1
        content = int.from_bytes(buf[end - self._size_bytes : end], "little")
        self._content = content + (256 if self._size_bytes == 2 else 0)
        if self._content > OUTPUT_LIMIT:
            return -1
        for _ in range(_ZSTD_BLOCKS_PER_STEP + 8):  # a few empty blocks more are fine; then walk it
            if len(buf) < end + _ZSTD_BLOCK_HEADER:
                return 0
            block = int.from_bytes(buf[end : end + _ZSTD_BLOCK_HEADER], "little")
            kind = (block >> 1) & 3
            if kind == 3:
                raise _corrupted("zstd", "reserved block type")
            end += _ZSTD_BLOCK_HEADER + (1 if kind == 1 else block >> 3)
            if block & 1:
                end += 4 if self._checksum else 0
                return end if len(buf) >= end else 0
        return -1

    def _whole_frame(self, end: int) -> bytes:
        buf = self._buf
        with memoryview(buf) as whole, whole[:end] as frame:
            try:
                out: bytes = self._dctx.decompress(frame)
            except zstandard.ZstdError as exc:
                raise _corrupted("zstd", exc) from None
        if len(out) != self._content:
            raise _corrupted("zstd", "a frame does not hold the size its header says")
        del buf[:end]
        self._need = 0
        self._frames += 1
        self._state = "frame"
        return out

    def _blocks(self) -> bytes | None:
        """Decompress the frame's next complete blocks, at most :data:`_ZSTD_BLOCKS_PER_STEP` of them.

        Why several: one call and one output piece per block (128 KiB) cost a
        restore ~8,000 Python steps, queue hand-offs and pipe writes per GiB.
        A block decompresses to at most 128 KiB, so the output of a step stays
        within :data:`OUTPUT_LIMIT` however compressible the data.
        """
        buf = self._buf
        end, count, last = 0, 0, False
        while count < _ZSTD_BLOCKS_PER_STEP and not last and len(buf) >= end + _ZSTD_BLOCK_HEADER:
            header = int.from_bytes(buf[end : end + _ZSTD_BLOCK_HEADER], "little")
            kind, size = (header >> 1) & 3, header >> 3
            if kind == 3:
                raise _corrupted("zstd", "reserved block type")
            block_end = end + _ZSTD_BLOCK_HEADER + (1 if kind == 1 else size)
            if len(buf) < block_end:
                break
            end, count, last = block_end, count + 1, bool(header & 1)
        if not count:
            return None
        out = self._feed(self._take(end))
        if last:
            if self._checksum:
                self._state, self._need = "checksum", 4
            else:
                self._end_frame()
        return out

    def update_iter(self, data: bytes) -> Iterator[bytes]:
        view = memoryview(data)
        for start in range(0, len(view), OUTPUT_LIMIT):  # enough input for a whole step of blocks
            yield from self._update(view[start : start + OUTPUT_LIMIT])

    def _update(self, data: memoryview) -> Iterator[bytes]:
        self._buf += data
        while self._buf:
            out = self._step()
            if out is None:
                return
            if out:
                yield out

    def finish_iter(self) -> Iterator[bytes]:
        yield from ()
        if self._state != "frame" or self._buf:
            raise _corrupted("zstd", "the stream ends in the middle of a frame")
        if not self._frames:
            raise _corrupted("zstd", "no data")


def decompressor(name: str) -> Transform:
    """A decompressing transform for ``name`` (one of :data:`COMPRESSIONS`)."""
    _check_name(name)
    if name == "gzip":
        backend = gzip_backend()
        errors: tuple[type[BaseException], ...] = (zlib.error, backend.error, ValueError)
        return _MemberDecompressor("gzip", lambda: backend.decompressobj(_GZIP_WBITS), errors)
    if name == "bzip2":
        return _MemberDecompressor("bzip2", bz2.BZ2Decompressor, (OSError, ValueError, EOFError))
    if name == "xz":
        return _MemberDecompressor(
            "xz", lambda: lzma.LZMADecompressor(format=lzma.FORMAT_XZ), (lzma.LZMAError, EOFError)
        )
    if name == "zstd":
        return _ZstdDecompressor()
    return Passthrough()
