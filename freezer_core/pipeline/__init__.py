"""The streaming pipeline between engines and storages.

A backup's bytes go engine -> compress -> encrypt -> segments -> storage, and
a restore's come back the other way.  Each step is a :class:`Transform`: an
object fed bytes piece by piece that returns whatever output is ready.  Steps
never see the whole stream, so memory stays bounded by the size of one piece
(plus what a step buffers internally, e.g. one encryption chunk) whatever the
size of the backup.

A transform whose output can be far larger than its input (a decompressor
fed highly compressible data: a few kilobytes of zstd can expand to
gigabytes of zeros) may also offer ``update_iter``/``finish_iter``, which
yield the same output in bounded pieces.  :func:`apply` prefers them, so a
restore of a mostly-empty disk image does not need gigabytes of memory.

Speed comes from threads over C code that releases the GIL (zstd, ISA-L or
zlib, AES-GCM, hashlib) rather than from processes: :func:`read_ahead` lets
a producer (a ``tar`` pipe, or download + decrypt + decompress on restore)
run on one core while its consumer runs on the other, and
:func:`worker_pool` is the one pool that parallel compressors share.  Every
queue between threads is bounded, so memory stays bounded too (see
``docs/performance.md``).
"""

from __future__ import annotations

import ctypes
import functools
import os
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar, runtime_checkable

__all__ = ["HEAP_RELEASE_EVERY", "Passthrough", "Transform", "apply", "pin_malloc_thresholds", "read_ahead",
           "release_free_heap", "worker_count", "worker_pool"]

_T = TypeVar("_T")
READ_AHEAD_DEPTH = 2
"""Items :func:`read_ahead` buffers by default: 2 MiB of 1 MiB chunks, beside the 1 MiB a pipe holds.

Measured on the 1 GiB benchmark against a depth of 4: backups and restores
as fast (within run-to-run noise), and 2-3 MiB less peak memory for an S3 backup."""
_POLL = 0.1  # seconds between checks that a stopped consumer wants the producer gone


@runtime_checkable
class Transform(Protocol):
    """One streaming step: feed bytes with ``update``, end with ``finish``.

    ``update`` may return ``b""`` when it is still buffering.  ``finish``
    returns whatever is left and checks the stream was complete (a truncated
    compressed or encrypted stream is detected here).  A transform is used for
    exactly one stream.
    """

    def update(self, data: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


class Passthrough:
    """The identity transform, for "no compression" and "no encryption"."""

    def update(self, data: bytes) -> bytes:
        return data

    def finish(self) -> bytes:
        return b""


def _pieces_of_update(transform: Transform, data: bytes) -> Iterable[bytes]:
    update_iter = getattr(transform, "update_iter", None)
    if update_iter is not None:
        pieces: Iterable[bytes] = update_iter(data)
        return pieces
    return (transform.update(data),)


def _pieces_of_finish(transform: Transform) -> Iterable[bytes]:
    finish_iter = getattr(transform, "finish_iter", None)
    if finish_iter is not None:
        pieces: Iterable[bytes] = finish_iter()
        return pieces
    return (transform.finish(),)


def _push(transforms: Sequence[Transform], start: int, pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Send ``pieces`` through ``transforms[start:]``, yielding non-empty output."""
    if start == len(transforms):
        for piece in pieces:
            if piece:
                yield piece
        return
    transform = transforms[start]
    for piece in pieces:
        if piece:
            yield from _push(transforms, start + 1, _pieces_of_update(transform, piece))


def apply(chunks: Iterable[bytes], *transforms: Transform) -> Iterator[bytes]:
    """Run ``chunks`` through ``transforms`` in order, lazily; empty outputs are skipped.

    When the input ends, each transform is finished in order and its final
    output goes through the transforms after it, so ``apply(data, compress,
    encrypt)`` yields a complete encrypted stream of the compressed data.
    """
    yield from _push(transforms, 0, chunks)
    for index, transform in enumerate(transforms):
        yield from _push(transforms, index + 1, _pieces_of_finish(transform))


# ---------------------------------------------------------------- memory

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 2 << 20
"""Allocations from this size up get their own mapping, returned to the kernel when freed."""
TRIM_THRESHOLD = 2 << 20
"""Free memory at the top of each glibc heap kept for reuse instead of returned (two 1 MiB pieces)."""
HEAP_RELEASE_EVERY = 256 << 20
"""Bytes a transfer moves between two calls of :func:`release_free_heap`."""


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The process's own symbols, libc's among them; None where they cannot be loaded.

    Not ``ctypes.util.find_library``: it runs ``ldconfig -p`` in a subprocess.
    """
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def pin_malloc_thresholds() -> bool:
    """Give segment-sized buffers their own mappings for the whole run (glibc only); True if set.

    Why: glibc raises its mmap threshold to the size of the largest mapped block
    freed so far (up to 32 MiB), so after the first segment every later
    segment -- and every step of a growing one -- comes from the heap, where
    freed space is fragmented and kept.  Measured on the 1 GiB benchmark this
    costs a backup 4-10 MiB of peak RSS, more as the run grows.  A fixed
    threshold (which also stops the adjustment) keeps the 1 MiB pipeline pieces
    on the fast heap and maps, remaps and unmaps the segments.

    Fixing the mmap threshold also fixes glibc's trim threshold at 128 KiB, so
    every 1 MiB piece freed at the top of a heap would be handed back to the
    kernel and faulted in again for the next one.  The slack is kept per heap,
    and every thread that allocates has its own (five in an S3 backup), so it
    is kept small: measured on the 1 GiB benchmark, 2 MiB against 4 costs a
    backup no time (47,000-71,000 -> 60,000-99,000 page faults) and saves
    3.5 MiB of peak RSS on local disk and 6 MiB on S3; 1 MiB quadruples the
    page faults and costs 13% of the wall time.  Call it once at start-up,
    before the pipeline allocates.  An operator's
    ``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_`` wins.
    """
    mallopt = getattr(_libc(), "mallopt", None)  # not glibc (musl has no mallopt): None
    if mallopt is None or os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        return False
    if not os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def release_free_heap() -> bool:
    """Hand the free pages inside glibc's heaps back to the kernel (``malloc_trim``); False elsewhere.

    Why: the trim threshold only returns free memory at the *top* of a heap.
    A long backup frees its 1 MiB pieces in a different order than it took
    them, in one heap per thread, and the holes left below live pieces stay
    resident: a 10 GiB gzip backup's live allocations were 40 MiB at its peak
    while the process held 83 MiB of anonymous memory, and peaked at
    101-109 MiB against 78 at 1 GiB.  The transfers call this every
    :data:`HEAP_RELEASE_EVERY` bytes, which bounds that drift to what one
    stretch of the transfer can leave.
    """
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is None:
        return False
    trim(0)
    return True


# ---------------------------------------------------------------- threads


_pool_lock = threading.Lock()
_pool: tuple[int, ThreadPoolExecutor] | None = None


def worker_count() -> int:
    """Threads in :func:`worker_pool`: one per CPU, at least two."""
    return max(2, os.cpu_count() or 2)


def worker_pool() -> ThreadPoolExecutor:
    """The process-wide pool for CPU work in C (one thread per CPU).

    Shared rather than per stream so that an abandoned stream never leaves
    threads behind, and so that concurrent streams do not oversubscribe the
    CPUs.  A forked child gets a fresh pool (threads do not survive fork).
    """
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            pool = ThreadPoolExecutor(max_workers=worker_count(), thread_name_prefix="freezer-cpu")
            _pool = (os.getpid(), pool)
        return _pool[1]


class _Failure:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


def read_ahead(items: Iterable[_T], depth: int = READ_AHEAD_DEPTH, *, name: str = "freezer-read-ahead") -> Iterator[_T]:
    """Iterate ``items`` in a background thread, up to ``depth`` items ahead of the consumer.

    Why: a pipeline run by one thread alternates between its stages, so a
    ``tar`` pipe stalls while we compress and ``tar -x`` starves while we
    decompress.  With this, the producer's C calls (pipe reads, zstd, AES)
    overlap with the consumer's.  Exceptions from ``items`` are re-raised in
    the consumer, in order.  Closing the returned generator (or dropping it)
    stops the producer at its next item; the thread never outlives that.
    """
    if depth < 1:
        raise ValueError(f"read-ahead depth must be at least 1, not {depth}")
    source = iter(items)
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=_POLL)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for item in source:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, who re-raises it
            put(_Failure(exc))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    return _consume(slots, stop, thread, source)


def _consume(
    slots: queue.Queue[object], stop: threading.Event, thread: threading.Thread, source: Iterator[_T]
) -> Iterator[_T]:
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
        close = getattr(source, "close", None)
        if close is not None:
            close()
