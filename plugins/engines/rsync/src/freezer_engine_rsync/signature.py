"""Block signatures and the rolling match, vectorised with numpy.

Why numpy: the rolling checksum must be evaluated at every byte offset of a
changed region, which a per-byte Python loop cannot do at backup speed.  The
weak checksum is a polynomial hash modulo 2**32,

    weak(x[k:k+B]) = sum(x[k+t] * P**t for t in range(B))  (mod 2**32)

with an odd ``P``.  Odd numbers are invertible modulo 2**32, so the hash of
every window falls out of one prefix sum: ``G[j] = sum(x[i] * P**i, i < j)``
gives ``weak(k) = (G[k+B] - G[k]) * P**-k``, which numpy computes for a whole
buffer at once (uint32 arithmetic wraps, which is exactly the modulus).
Candidates from the weak hash are confirmed with a strong hash (BLAKE2b,
128 bits) before a block is reused.

The matcher only rolls where it must: from the current position it first
checks whole blocks in a row (the common case, unchanged data), and rolls
byte by byte only from the first block that does not match until it finds
one that does.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
else:

    class _Numpy:
        """numpy, imported on first use: a restore (strong hashes only) or a backup with nothing
        changed never needs it, and importing it is a fifth of a second of every run."""

        def __getattr__(self, name: str) -> Any:
            import numpy

            globals()["np"] = numpy  # later uses find the module itself
            return getattr(numpy, name)

    np: ModuleType | _Numpy = _Numpy()

P = 0x9E3779B1
"""Multiplier of the weak hash (odd, so invertible modulo 2**32)."""
Q = pow(P, -1, 1 << 32)

STRONG_SIZE = 16
WEAK_SIZE = 4
DIGEST_SIZE = 32
ROLL_REGION = 1 << 18
"""Bytes hashed in one numpy pass.  Each pass makes temporary uint32 arrays 4 x
its size (plus two cached power tables as long): 256 KiB keeps them near 1 MiB
each.  1 MiB regions were no faster and cost 4-7 MiB more peak memory in a backup."""
READ_SIZE = 1 << 20


@functools.lru_cache(maxsize=4)
def _powers(length: int) -> tuple[np.ndarray, np.ndarray]:
    """P**i and P**-i modulo 2**32 for i < length (cached per block size)."""
    pp = np.full(length, P, dtype=np.uint32)
    pp[0] = 1
    qq = np.full(length, Q, dtype=np.uint32)
    qq[0] = 1
    return np.cumprod(pp, dtype=np.uint32), np.cumprod(qq, dtype=np.uint32)


def aligned_weak(data: bytes | memoryview, block_size: int) -> np.ndarray:
    """Weak hashes of the consecutive whole blocks of ``data`` (a trailing partial block is ignored)."""
    count = len(data) // block_size
    x = np.frombuffer(data, dtype=np.uint8, count=count * block_size).reshape(count, block_size)
    pp, _ = _powers(block_size)
    weak = np.empty(count, dtype=np.uint32)
    rows = max(1, ROLL_REGION // block_size)  # the product below is 4 x the bytes it covers
    for first in range(0, count, rows):
        np.sum(x[first : first + rows] * pp, axis=1, dtype=np.uint32, out=weak[first : first + rows])
    return weak


def rolling_weak(data: bytes | memoryview, block_size: int) -> np.ndarray:
    """Weak hash of the window starting at every offset k with k + block_size <= len(data)."""
    n = len(data)
    x = np.frombuffer(data, dtype=np.uint8)
    pp, qq = _powers(ROLL_REGION + block_size + 1)
    g = np.empty(n + 1, dtype=np.uint32)
    g[0] = 0
    np.multiply(x, pp[:n], out=g[1:])
    np.cumsum(g, out=g)
    weak = g[block_size:] - g[: n - block_size + 1]
    weak *= qq[: n - block_size + 1]
    return weak


def strong(block: bytes | memoryview) -> bytes:
    return hashlib.blake2b(block, digest_size=STRONG_SIZE).digest()


class Signer:
    """Signs a file as it streams past: block hashes for the next level plus a file digest.

    The file digest is BLAKE2b-256 over the block hashes, the tail and the
    length, so it costs no second pass over the data; restore recomputes it
    (without the weak hashes) to prove a rebuilt file is the one backed up.
    """

    def __init__(self, block_size: int, *, weak: bool = True) -> None:
        self.block_size = block_size
        self.size = 0
        self._want_weak = weak
        self._pending = b""
        self._weak = bytearray()
        self._strong = bytearray()
        self._digest = hashlib.blake2b(digest_size=DIGEST_SIZE)

    def update(self, data: bytes) -> None:
        self.size += len(data)
        if self._pending:
            data = self._pending + data
        whole = len(data) - len(data) % self.block_size
        if whole:
            view = memoryview(data)
            b = self.block_size
            if self._want_weak:
                self._weak += aligned_weak(view[:whole], b).astype("<u4").tobytes()
            for pos in range(0, whole, b):
                digest = strong(view[pos : pos + b])
                self._strong += digest
                self._digest.update(digest)
        self._pending = data[whole:]

    def finish(self) -> tuple[int, bytes, bytes, bytes]:
        """(block count, weak hashes, strong hashes, file digest)."""
        self._digest.update(self._pending)
        self._digest.update(self.size.to_bytes(8, "little"))
        return len(self._strong) // STRONG_SIZE, bytes(self._weak), bytes(self._strong), self._digest.digest()

    def hashes(self, first: int, count: int) -> tuple[list[int], bytes] | None:
        """Weak and strong hashes of blocks ``first`` to ``first + count`` if already signed, else None.

        The delta search needs exactly these for data that is still aligned to the file's
        blocks (an append, an edit in place): taking them from here hashes each block once.
        """
        end = first + count
        if not self._want_weak or end * STRONG_SIZE > len(self._strong):
            return None
        weak = np.frombuffer(bytes(self._weak[first * WEAK_SIZE : end * WEAK_SIZE]), dtype="<u4").tolist()
        return weak, bytes(self._strong[first * STRONG_SIZE : end * STRONG_SIZE])


@dataclass(frozen=True)
class Copy:
    """Reuse ``count`` blocks of the previous version, starting at block ``index``."""

    index: int
    count: int


class Matcher:
    """Finds blocks of the previous version (given by its signature) in new data."""

    def __init__(self, block_size: int, weak: bytes, strong_hashes: bytes) -> None:
        self.block_size = block_size
        weak_arr = np.frombuffer(weak, dtype="<u4").astype(np.uint32)
        self._order = np.argsort(weak_arr, kind="stable")
        self._sorted = weak_arr[self._order]
        self._strong = strong_hashes
        bits = max(16, min(24, (len(weak_arr) * 256).bit_length()))
        self._shift = np.uint32(32 - bits)
        self._table = np.zeros(1 << bits, dtype=np.bool_)
        self._table[weak_arr >> self._shift] = True

    def find(self, weak: int, block: bytes | memoryview, digest: bytes | None = None) -> int | None:
        """Index of a previous block equal to ``block`` (whose weak hash is ``weak``, strong ``digest`` if known)."""
        pos = int(self._sorted.searchsorted(np.uint32(weak)))  # a Python int would cast the whole array
        while pos < len(self._sorted) and int(self._sorted[pos]) == weak:
            if digest is None:
                digest = strong(block)
            index = int(self._order[pos])
            if self._strong[index * STRONG_SIZE : (index + 1) * STRONG_SIZE] == digest:
                return index
            pos += 1
        return None

    def candidates(self, weak: np.ndarray) -> np.ndarray:
        """Offsets whose weak hash is in the signature: a bit-table prefilter, then an exact search."""
        offsets = np.flatnonzero(self._table[weak >> self._shift])
        if not len(offsets) or not len(self._sorted):
            return offsets
        values = weak[offsets]
        pos = np.minimum(self._sorted.searchsorted(values), len(self._sorted) - 1)
        return offsets[self._sorted[pos] == values]


def delta(chunks: Iterable[bytes], matcher: Matcher, signer: Signer | None = None) -> Iterator[Copy | bytes]:
    """The new data as copies of previous blocks and literal bytes, in order.

    Greedy like rsync: at each position take the first block that matches,
    else move on one byte.  Consecutive copies are merged into runs.
    ``signer``, when it signs ``chunks`` as they are read, gives the hashes of
    blocks at aligned offsets, which are then not computed a second time.
    """
    b = matcher.block_size
    source = iter(chunks)
    buf, cursor, lit_from, eof = b"", 0, 0, False
    base = 0
    """File offset of ``buf[0]``."""
    run: Copy | None = None
    while True:
        if not eof and len(buf) - cursor < ROLL_REGION + b:
            if lit_from < cursor:
                if run:
                    yield run
                    run = None
                yield buf[lit_from:cursor]
            base += cursor
            buf, cursor, lit_from = buf[cursor:], 0, 0
            while len(buf) < ROLL_REGION + b:
                chunk = next(source, None)
                if chunk is None:
                    eof = True
                    break
                buf += chunk
        if len(buf) - cursor < b:
            break
        view = memoryview(buf)
        # 1. whole blocks in a row from the cursor
        span = min(len(buf) - cursor, ROLL_REGION) // b * b
        known = signer.hashes((base + cursor) // b, span // b) if signer and (base + cursor) % b == 0 else None
        weaks, strongs = known or (aligned_weak(view[cursor : cursor + span], b).tolist(), b"")
        for number, weak in enumerate(weaks):
            digest = strongs[number * STRONG_SIZE : (number + 1) * STRONG_SIZE] if strongs else None
            index = matcher.find(weak, view[cursor : cursor + b], digest)
            if index is None:
                break
            if lit_from < cursor:
                if run:
                    yield run
                    run = None
                yield buf[lit_from:cursor]
            if run and run.index + run.count == index:
                run = Copy(run.index, run.count + 1)
            else:
                if run:
                    yield run
                run = Copy(index, 1)
            cursor += b
            lit_from = cursor
        else:
            continue
        # 2. roll byte by byte from the first block that did not match
        region = view[cursor : cursor + ROLL_REGION + b - 1]
        weak_all = rolling_weak(region, b)
        found = False
        for offset in matcher.candidates(weak_all).tolist():
            if offset == 0:
                continue  # the block at the cursor was just found missing
            start = cursor + offset
            if matcher.find(int(weak_all[offset]), view[start : start + b]) is not None:
                cursor, found = start, True
                break
        if not found:
            cursor += len(weak_all)
        if cursor - lit_from >= READ_SIZE:
            if run:
                yield run
                run = None
            yield buf[lit_from:cursor]
            lit_from = cursor
    if run:
        yield run
    if lit_from < len(buf):
        yield buf[lit_from:]
