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
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol, runtime_checkable

__all__ = ["Passthrough", "Transform", "apply"]


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
