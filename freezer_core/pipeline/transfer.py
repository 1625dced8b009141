"""Moving a stream to and from storage in checksummed segments, in parallel.

A backup stream is cut into segments of ``--max-segment-size`` (the last may
be shorter; on a storage with a part limit they grow along the upload, see
:func:`segment_size_at`); each is hashed with SHA-256 and written as one part of
a multi-part upload, several at once.  The list of :class:`Segment` goes into the backup's
metadata, so a restore can fetch segments ahead in parallel and verify each
one before any byte of it reaches the decryptor or the engine.

Memory is bounded whatever the stream size: at most ``connections`` segments
are in flight plus the one being filled (upload), or ``connections`` fetched
ahead plus the one being consumed (download) -- and fewer when segments are
large, so that segment buffers stay within :data:`MEMORY_BUDGET` (segments of
its half: one in flight, one being filled).  Each byte is copied once
into its segment, which is never held twice.  SHA-256 runs in the writer
threads (hashlib releases the GIL), off the thread that compresses.

Everything here talks to storage only through the :class:`Storage` /
:class:`Upload` contract, so retries and bandwidth limits are added as
wrappers around the storage object and need no change in this module.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from freezer_core.contract import Storage, Upload
from freezer_core.errors import FreezerError, IntegrityError, ObjectNotFound, StorageError, ValidationError
from freezer_core.pipeline import HEAP_RELEASE_EVERY, release_free_heap

__all__ = ["MEMORY_BUDGET", "PIECE_SIZE", "Segment", "download", "rechunk", "segment_size_at", "upload"]

PIECE_SIZE = 1 << 20
"""Largest piece :func:`download` yields (a verified segment is handed on in pieces)."""

MEMORY_BUDGET = 16 << 20
"""Segment bytes one upload keeps in memory (in flight + being filled); a download keeps one segment more.

The default ``--max-segment-size`` (8 MiB) is half of it, so a backup fills
one segment while the previous one is written and a restore consumes one
while the next is fetched.  A larger segment raises an upload's budget to
two of its segments: the memory the user chose (or a long upload grew to,
see :func:`segment_size_at`).  Measured on the 1 GiB benchmark, 8 MiB segments
in a 16 MiB budget keep every row under 100 MiB at the speed of 16 MiB ones
in 32 MiB, which cost 16-17 MiB more (see ``docs/performance.md``)."""

GROWTH_DOUBLINGS = 9
"""Under a part limit a segment grows to at most 512 x the size asked for (4 GiB from 8 MiB: S3 allows 5)."""

_T = TypeVar("_T")
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Segment:
    """One stored piece of a backup object: where it is and what it must hash to."""

    number: int
    offset: int
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "offset": self.offset, "size": self.size, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: Any) -> Segment:
        """Parse one entry of the metadata's ``segments`` list; damage is an IntegrityError."""
        try:
            number, offset, size, digest = data["number"], data["offset"], data["size"], data["sha256"]
        except (KeyError, TypeError):
            raise IntegrityError(
                f"malformed segment entry {data!r} in the backup metadata: it is damaged"
            ) from None
        ints_ok = all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (number, offset, size)
        )
        if not ints_ok or not isinstance(digest, str) or len(digest) != 64:
            raise IntegrityError(f"malformed segment entry {data!r} in the backup metadata: it is damaged")
        return cls(number, offset, size, digest.lower())


def rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Re-cut a stream into pieces of exactly ``size`` bytes (the last may be shorter, never empty)."""
    if size < 1:
        raise ValidationError(f"segment size must be at least 1 byte, not {size}")
    buf = bytearray()
    for chunk in chunks:
        view = memoryview(chunk)
        if buf:
            take = size - len(buf)
            buf += view[:take]
            view = view[take:]
            if len(buf) < size:
                continue
            yield bytes(buf)
            buf = bytearray()
        while len(view) >= size:
            yield bytes(view[:size])
            view = view[size:]
        buf += view
    if buf:
        yield bytes(buf)


def _storage_call(storage: Storage, what: str, call: Callable[[], _T]) -> _T:
    """Run a storage operation; foreign exceptions become a StorageError saying where."""
    try:
        return call()
    except FreezerError:
        raise
    except Exception as exc:
        raise StorageError(f"cannot {what} on {storage.describe()}: {exc or type(exc).__name__}") from exc


def _release_heap_past(moved: int, size: int) -> None:
    """Release free heap when ``size`` more bytes after ``moved`` cross a multiple of :data:`HEAP_RELEASE_EVERY`."""
    if moved // HEAP_RELEASE_EVERY != (moved + size) // HEAP_RELEASE_EVERY:
        release_free_heap()


def _connections(storage: Storage, connections: int | None) -> int:
    count = storage.properties().connections if connections is None else connections
    if count < 1:
        raise ValidationError(f"the number of connections must be at least 1, not {count}")
    return count


def segment_size_at(number: int, first: int, max_parts: int | None) -> int:
    """Size of segment ``number`` of an upload that starts with ``first``-byte segments.

    Why grow: a part limit caps an object at limit x segment size -- on S3,
    10 000 x 8 MiB = 78 GiB, found out only when part 10 000 is refused.  The
    first 40% of the parts keep the size asked for (and its memory: on S3,
    backups up to 31 GiB); after that the size doubles every 4% of the parts,
    nine times at most, so one upload holds about 160 x ``first`` x limit
    bytes (12 TiB from 8 MiB on S3, beyond its 5 TiB).  Sizes are recorded
    per segment, so a restore needs no rule.  Without a limit, every segment
    is ``first`` bytes.
    """
    if not max_parts:
        return first
    held = max_parts * 2 // 5
    if number < held:
        return first
    step = max(1, max_parts // 25)
    return first << min(GROWTH_DOUBLINGS, 1 + (number - held) // step)


def _budget(size: int) -> int:
    """Memory for an upload's segments while they are ``size`` bytes: two of them at least."""
    return max(MEMORY_BUDGET, 2 * size)


def _in_flight(connections: int, segment_size: int, budget: int = MEMORY_BUDGET) -> int:
    """Segments transferred at once: ``connections``, fewer when that would pass ``budget``.

    One more segment is always held by the other side (being filled, or being
    consumed), hence the ``- 1``; at least one transfer runs whatever the size.
    """
    return max(1, min(connections, budget // max(1, segment_size) - 1))


def _segments(
    chunks: Iterable[bytes],
    size_of: Callable[[int], int],
    make_room: Callable[[int, int], None],
    new_segment: Callable[[int], _Segment],
) -> Iterator[bytes | memoryview]:
    """Cut ``chunks`` into segments of ``size_of(number)`` bytes (the last shorter, never empty).

    Each byte is copied once, into the segment ``new_segment(size)`` gives.
    ``make_room(filling, size)`` is called before the segment being filled (of
    ``size`` bytes when full) grows to ``filling`` bytes.
    """
    number, size = 0, size_of(0)
    segment: _Segment | None = None
    filled = 0
    for chunk in chunks:
        view = memoryview(chunk)
        while len(view) >= size - filled:
            take = size - filled
            make_room(filled + take, size)
            if segment is None:
                segment = new_segment(size)
            segment.write(view[:take])
            yield segment.getvalue()
            segment, filled = None, 0
            number += 1
            size = size_of(number)
            view = view[take:]
        if view:
            make_room(filled + len(view), size)
            if segment is None:
                segment = new_segment(size)
            segment.write(view)
            filled += len(view)
    if segment is not None:
        yield segment.getvalue()


class _Segment(Protocol):
    def write(self, data: memoryview, /) -> int: ...

    def getvalue(self) -> bytes | memoryview: ...


class _ReusedSegment:
    """A segment filled into a buffer that later segments reuse: for a storage that borrows parts.

    ``getvalue`` lends a read-only view of the bytes filled; :func:`upload`
    puts the buffer back in ``free`` once its part is written.
    """

    def __init__(self, size: int, free: list[bytearray]) -> None:
        while free and len(free[-1]) < size:  # outgrown: segments grew along the upload
            free.pop()
        self.buffer = free.pop() if free else bytearray(size)
        self.filled = 0

    def write(self, data: memoryview, /) -> int:
        end = self.filled + len(data)
        self.buffer[self.filled:end] = data
        self.filled = end
        return len(data)

    def getvalue(self) -> memoryview:
        return memoryview(self.buffer)[:self.filled].toreadonly()


# ---------------------------------------------------------------- upload


def _write_segment(
    storage: Storage, upload_: Upload, name: str, number: int, offset: int, data: bytes | memoryview
) -> str:
    digest = hashlib.sha256(data).hexdigest()
    part = cast(bytes, data)  # a memoryview only for a storage that borrows parts (the contract's promise)
    _storage_call(storage, f"write part {number} of {name}", lambda: upload_.write_part(number, offset, part))
    return digest


def upload(
    storage: Storage,
    name: str,
    chunks: Iterable[bytes],
    *,
    segment_size: int,
    connections: int | None = None,
) -> list[Segment]:
    """Write ``chunks`` as the object ``name`` in checksummed segments; return them.

    The object appears under ``name`` only when every part is written.  On any
    failure -- in storage or in the producing iterator -- the upload is
    aborted and the error re-raised, leaving nothing under ``name``.
    """
    props = storage.properties()
    first = max(segment_size, props.min_part_size)
    if first < 1:
        raise ValidationError(f"segment size must be at least 1 byte, not {segment_size}")

    def size_of(number: int) -> int:
        return segment_size_at(number, first, props.max_parts)

    workers = _connections(storage, connections)
    upload_ = _storage_call(storage, f"start writing {name}", lambda: storage.open_upload(name))
    pending: dict[Future[str], tuple[int, int, int]] = {}
    digests: dict[int, str] = {}
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="freezer-upload")
    free: list[bytearray] = []  # buffers of parts written, for the next segments (a storage that borrows parts)
    lent: dict[int, bytearray] = {}

    def new_segment(size: int) -> _Segment:
        # Else a new BytesIO per segment: its getvalue() hands over its buffer as the bytes the
        # storage keeps, without the copy (and second segment of memory) of joining or bytes().
        return _ReusedSegment(size, free) if props.borrows_parts else io.BytesIO()

    def collect(done: Iterable[Future[str]]) -> None:
        for future in done:
            number, _, _ = pending.pop(future)
            digests[number] = future.result()  # re-raises a failed write
            buffer = lent.pop(number, None)
            if buffer is not None:
                free.append(buffer)

    def make_room(filling: int, size: int) -> None:
        """Before a ``size``-byte segment grows to ``filling`` bytes: wait for writes until its budget allows it."""
        while pending and filling + sum(length for _, _, length in pending.values()) > _budget(size):
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            collect(done)

    try:
        offset = 0
        sizes: list[tuple[int, int]] = []
        number = -1
        # Not ``enumerate``: it keeps its last (index, item) tuple alive until the next item, which
        # would pin each segment while the next one fills -- a whole segment outside the budget.
        for data in _segments(chunks, size_of, make_room, new_segment):
            number += 1
            size = size_of(number)
            while len(pending) >= _in_flight(workers, size, _budget(size)):
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                collect(done)
            future = executor.submit(_write_segment, storage, upload_, name, number, offset, data)
            if isinstance(data, memoryview):
                lent[number] = cast(bytearray, data.obj)  # a _ReusedSegment's buffer, free once written
            pending[future] = (number, offset, len(data))
            sizes.append((offset, len(data)))
            _release_heap_past(offset, len(data))
            offset += len(data)
            del data  # the worker holds the only reference: memory goes when the part is written
        done, _ = wait(pending)
        collect(done)
        _storage_call(storage, f"complete {name}", upload_.complete)
    except BaseException:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True)
        close = getattr(chunks, "close", None)
        if close is not None:  # stop the producer (and any read-ahead thread behind it) now, not at GC
            try:
                close()
            except Exception:  # noqa: BLE001 - the original failure is the one to report
                _log.warning("could not stop the stream being written to %s", name, exc_info=True)
        try:
            upload_.abort()
        except Exception:  # noqa: BLE001 - the original failure is the one to report
            _log.warning("could not abort the upload of %s to %s", name, storage.describe(), exc_info=True)
        raise
    executor.shutdown(wait=True)
    return [Segment(n, off, length, digests[n]) for n, (off, length) in enumerate(sizes)]


# ---------------------------------------------------------------- download


def _fetch(storage: Storage, name: str, offset: int, length: int, segment: Segment | None) -> bytes:
    where = f"segment {segment.number} of {name}" if segment else f"{name} at offset {offset}"
    data = _storage_call(storage, f"read {where}", lambda: storage.get(name, offset, length))
    if len(data) != length:
        raise IntegrityError(
            f"{where} is {len(data)} bytes instead of {length}: the stored object is truncated or was changed"
        )
    if segment is not None and hashlib.sha256(data).hexdigest() != segment.sha256:
        raise IntegrityError(
            f"segment {segment.number} of {name} is corrupted (checksum mismatch): "
            "the backup cannot be restored from this storage"
        )
    return data


def _plan(
    storage: Storage, name: str, segments: Sequence[Segment] | None, segment_size: int
) -> list[tuple[int, int, Segment | None]]:
    """The ranges to fetch, after checking the object exists and has the recorded size."""
    total = _storage_call(storage, f"stat {name}", lambda: storage.size(name))
    if total is None:
        raise ObjectNotFound(
            f"{name} not found in {storage.describe()}: the backup is incomplete or was removed"
        )
    if segments is None:
        if segment_size < 1:
            raise ValidationError(f"segment size must be at least 1 byte, not {segment_size}")
        return [(off, min(segment_size, total - off), None) for off in range(0, total, segment_size)]
    expected = 0
    for index, segment in enumerate(segments):
        if segment.number != index or segment.offset != expected:
            raise IntegrityError(
                f"the segment list of {name} is inconsistent at entry {index}: its metadata is damaged"
            )
        expected += segment.size
    if expected != total:
        raise IntegrityError(
            f"{name} is {total} bytes but its segments add up to {expected}: "
            "the backup cannot be restored from this storage"
        )
    return [(s.offset, s.size, s) for s in segments]


def download(
    storage: Storage,
    name: str,
    segments: Sequence[Segment] | None,
    *,
    segment_size: int,
    connections: int | None = None,
) -> Iterator[bytes]:
    """Yield the object ``name`` in pieces of at most :data:`PIECE_SIZE`, fetched ahead and verified.

    Each segment is checked whole before its first piece is yielded.

    ``segments`` come from the backup's metadata; None (backups written by
    upstream Freezer) reads ranges of ``segment_size`` without checksums.
    Closing the generator early cancels what is queued and waits for the
    fetches already running, so no thread outlives it.
    """
    plan = _plan(storage, name, segments, segment_size)
    workers = _in_flight(_connections(storage, connections), max((length for _, length, _ in plan), default=1))
    queue: deque[Future[bytes]] = deque()
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="freezer-download")
    try:
        ranges = iter(plan)
        # Only the first segment is fetched before the consumer has seen it: it holds the
        # encryption header, and deriving the key (scrypt: 32 MiB) while a second segment
        # waits in memory would add a segment to the restore's peak memory.
        first = next(ranges, None)
        if first is not None:
            queue.append(executor.submit(_fetch, storage, name, *first))
        started = False

        def top_up() -> None:
            for nxt in ranges:
                queue.append(executor.submit(_fetch, storage, name, *nxt))
                if len(queue) >= workers:
                    break

        done = 0
        while queue:
            data = queue.popleft().result()
            _release_heap_past(done, len(data))
            done += len(data)
            if started:
                top_up()
            # Handed on in pieces: whatever a consumer keeps (a header it peeked at, a
            # buffered tail) then pins one piece, never a whole segment.
            view = memoryview(data)
            for start in range(0, len(view), PIECE_SIZE):
                yield bytes(view[start : start + PIECE_SIZE])
            del data, view
            if not started:
                started = True
                top_up()
    finally:
        for future in queue:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
