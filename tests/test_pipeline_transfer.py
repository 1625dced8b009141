"""Segmented parallel transfer: round trips through the whole pipeline, damage, failures, memory."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import threading
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freezer_core.contract import StorageProperties, Upload
from freezer_core.errors import IntegrityError, ObjectNotFound, StorageError
from freezer_core.pipeline import apply
from freezer_core.pipeline.compression import COMPRESSIONS, compressor, decompressor
from freezer_core.pipeline.crypto import ScryptParams, decryptor, encryptor
from freezer_core.pipeline.transfer import GROWTH_DOUBLINGS, MEMORY_BUDGET, Segment, download, segment_size_at, upload
from freezer_core.testing.memory import MemoryStorage

PW = b"pw"
FAST = ScryptParams(log2_n=4)


class _KeptPartsUpload(Upload):
    """Keeps each part object it is given, as a client that queues its requests would."""

    def __init__(self, storage: MemoryStorage, name: str) -> None:
        self.storage, self.name = storage, name
        self.parts: dict[int, bytes] = {}

    def write_part(self, number: int, offset: int, data: bytes) -> None:
        assert type(data) is bytes, f"a storage that does not borrow parts was given {type(data).__name__}"
        self.parts[number] = data

    def complete(self) -> None:
        self.storage.put(self.name, b"".join(self.parts[n] for n in sorted(self.parts)))

    def abort(self) -> None:
        self.parts.clear()


class _KeepsParts(MemoryStorage):
    """A storage whose ``write_part`` keeps its data: it does not borrow parts, so it must get ``bytes``."""

    def properties(self) -> StorageProperties:
        return StorageProperties(connections=4)

    def open_upload(self, name: str) -> Upload:
        return _KeptPartsUpload(self, name)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@settings(max_examples=120, deadline=None)
@given(
    compression=st.sampled_from(COMPRESSIONS),
    encryption=st.sampled_from(["none", "freezer", "openssl"]),
    data=st.binary(max_size=4000),
    segment_size=st.sampled_from([1, 7, 64, 1000, 100_000]),
    connections=st.integers(1, 5),
    cuts=st.lists(st.integers(min_value=0), max_size=8),
    known_segments=st.booleans(),
    borrows=st.booleans(),
)
def test_full_pipeline_round_trip(
    compression: str,
    encryption: str,
    data: bytes,
    segment_size: int,
    connections: int,
    cuts: list[int],
    known_segments: bool,
    borrows: bool,
) -> None:
    if encryption == "openssl" and compression == "none":
        data = gzip.compress(data)  # that format needs recognisable plaintext (see docs/formats.md)
    storage = MemoryStorage() if borrows else _KeepsParts()
    forward = [compressor(compression)]
    backward = [decompressor(compression)]
    if encryption != "none":
        forward.append(encryptor(PW, encryption, chunk_size=100, kdf=FAST))
        backward.insert(0, decryptor(PW))
    stream = apply(_split(data, cuts), *forward)
    segments = upload(storage, "data", stream, segment_size=segment_size, connections=connections)
    stored = storage.objects["data"]
    assert sum(s.size for s in segments) == len(stored)
    assert all(s.size == segment_size for s in segments[:-1])
    assert [s.sha256 for s in segments] == [
        hashlib.sha256(stored[s.offset : s.offset + s.size]).hexdigest() for s in segments
    ]
    fetched = download(
        storage,
        "data",
        segments if known_segments else None,
        segment_size=segment_size,
        connections=connections,
    )
    assert b"".join(apply(fetched, *backward)) == data


def test_segments_cut_exactly_and_raise_to_min_part_size() -> None:
    class BigParts(MemoryStorage):
        def properties(self) -> StorageProperties:
            return StorageProperties(connections=2, min_part_size=10)

    storage = BigParts()
    segments = upload(storage, "o", [b"abc", b"defghijklmnopqrstuvw", b"xyz"], segment_size=4)
    assert [(s.number, s.offset, s.size) for s in segments] == [(0, 0, 10), (1, 10, 10), (2, 20, 6)]
    assert storage.objects["o"] == b"abcdefghijklmnopqrstuvwxyz"
    assert Segment.from_dict(segments[1].to_dict()) == segments[1]


def test_a_segment_size_above_the_memory_budget_is_honoured() -> None:
    """A user's large --max-segment-size is kept (it raises the upload's budget), never silently cut."""
    big = MEMORY_BUDGET  # twice the default segment size
    data = bytes(range(256)) * ((big + big // 2) // 256)
    storage = MemoryStorage()
    segments = upload(storage, "o", (data[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20)),
                      segment_size=big)
    assert [s.size for s in segments] == [big, len(data) - big]
    assert b"".join(download(storage, "o", segments, segment_size=big)) == data


@settings(max_examples=200, deadline=None)
@given(first=st.integers(1, 1 << 30), max_parts=st.none() | st.integers(1, 20_000))
def test_segments_grow_only_under_a_part_limit_and_then_fit_it(first: int, max_parts: int | None) -> None:
    sizes = [segment_size_at(n, first, max_parts) for n in range(max_parts or 1000)]
    assert sizes == sorted(sizes)  # never shrink along an upload
    if max_parts is None:
        assert set(sizes) == {first}
        return
    held = max_parts * 2 // 5
    assert set(sizes[:held]) <= {first}  # the size asked for, and its memory, for 40% of the limit
    assert max(sizes) <= first << GROWTH_DOUBLINGS
    if max_parts >= 25:  # the limit holds over 100 times what it holds at a fixed size
        assert sum(sizes) >= 100 * first * max_parts


def test_a_part_limit_grows_segments_and_restores() -> None:
    class Limited(MemoryStorage):
        def properties(self) -> StorageProperties:
            return StorageProperties(connections=2, max_parts=50)  # 20 parts held, then doubling every 2

    data = bytes(range(256)) * 40  # 10240 bytes: 3414 parts of 3 bytes
    storage = Limited()
    segments = upload(storage, "o", _split(data, [5, 77, 1000]), segment_size=3)
    sizes = [s.size for s in segments]
    assert sizes[:26] == [3] * 20 + [6, 6, 12, 12, 24, 24]
    assert len(segments) <= 50
    assert sum(sizes) == len(data)
    assert b"".join(download(storage, "o", segments, segment_size=3)) == data


def test_a_borrowing_storage_gets_read_only_views_of_a_few_reused_buffers() -> None:
    buffers: list[object] = []  # held, so that no two buffers can share an id

    class Viewed(Upload):
        def __init__(self, inner: Upload) -> None:
            self.inner = inner

        def write_part(self, number: int, offset: int, data: bytes) -> None:
            assert isinstance(data, memoryview) and data.readonly
            buffers.append(data.obj)
            self.inner.write_part(number, offset, data)

        def complete(self) -> None:
            self.inner.complete()

        def abort(self) -> None:
            self.inner.abort()

    class Borrowing(MemoryStorage):
        def open_upload(self, name: str) -> Upload:
            return Viewed(super().open_upload(name))

    data = bytes(range(256)) * 157  # 40 segments of 1000 bytes and a short one
    storage = Borrowing()
    segments = upload(storage, "o", _split(data, [3, 999, 1001, 20_000]), segment_size=1000, connections=2)
    assert len(buffers) == len(segments) == 41
    assert len({id(b) for b in buffers}) <= 3  # two parts in flight and one being filled
    assert storage.objects["o"] == data
    assert b"".join(download(storage, "o", segments, segment_size=1000)) == data


def test_a_storage_that_keeps_parts_gets_each_its_own_bytes() -> None:
    data = bytes(range(256)) * 40
    storage = _KeepsParts()
    segments = upload(storage, "o", _split(data, [5, 700, 3000]), segment_size=1000, connections=3)
    assert [s.size for s in segments] == [1000] * 10 + [240]
    assert storage.objects["o"] == data


def test_empty_stream_makes_an_empty_object() -> None:
    storage = MemoryStorage()
    assert upload(storage, "o", iter([b"", b""]), segment_size=8) == []
    assert storage.objects["o"] == b""
    assert list(download(storage, "o", [], segment_size=8)) == []


def test_flipped_byte_names_the_segment() -> None:
    storage = MemoryStorage()
    segments = upload(storage, "o", [bytes(range(256)) * 4], segment_size=100)
    damaged = bytearray(storage.objects["o"])
    damaged[512] ^= 1
    storage.objects["o"] = bytes(damaged)
    chunks = download(storage, "o", segments, segment_size=100)
    with pytest.raises(IntegrityError, match=r"segment 5 of o is corrupted \(checksum mismatch\)"):
        list(chunks)


def test_size_mismatch_and_missing_object() -> None:
    storage = MemoryStorage()
    segments = upload(storage, "o", [b"x" * 50], segment_size=10)
    storage.objects["o"] += b"extra"
    with pytest.raises(IntegrityError, match="50"):
        list(download(storage, "o", segments, segment_size=10))
    with pytest.raises(ObjectNotFound):
        list(download(storage, "nothing", None, segment_size=10))
    with pytest.raises(IntegrityError, match="malformed segment"):
        Segment.from_dict({"number": 0, "offset": 0, "size": -1, "sha256": "0" * 64})


class _FailingUpload(Upload):
    def __init__(self, inner: Upload, fail_on: int, log: list[str]) -> None:
        self.inner, self.fail_on, self.log = inner, fail_on, log

    def write_part(self, number: int, offset: int, data: bytes) -> None:
        if number == self.fail_on:
            raise ConnectionResetError("connection reset by peer")
        self.inner.write_part(number, offset, data)

    def complete(self) -> None:
        self.log.append("complete")
        self.inner.complete()

    def abort(self) -> None:
        self.log.append("abort")
        self.inner.abort()


@pytest.mark.parametrize("fail_on", [0, 3, 9])
def test_failing_part_aborts_and_leaves_nothing(fail_on: int) -> None:
    log: list[str] = []

    class Failing(MemoryStorage):
        def open_upload(self, name: str) -> Upload:
            return _FailingUpload(super().open_upload(name), fail_on, log)

    storage = Failing()
    with pytest.raises(StorageError, match=f"part {fail_on} of o.*memory:memory.*connection reset"):
        upload(storage, "o", [b"z" * 100], segment_size=10, connections=3)
    assert log == ["abort"]
    assert "o" not in storage.objects


def test_failing_producer_aborts_and_propagates() -> None:
    log: list[str] = []

    class Logged(MemoryStorage):
        def open_upload(self, name: str) -> Upload:
            return _FailingUpload(super().open_upload(name), -1, log)

    def produce() -> Iterator[bytes]:
        yield b"a" * 30
        raise ValueError("engine broke")

    storage = Logged()
    with pytest.raises(ValueError, match="engine broke"):
        upload(storage, "o", produce(), segment_size=10)
    assert log == ["abort"] and "o" not in storage.objects


class _Counting(MemoryStorage):
    """Counts segments alive at once: queued, being written, or being read."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.live = 0
        self.peak = 0
        self.gate = threading.Semaphore(0)

    def _enter(self) -> None:
        with self.lock:
            self.live += 1
            self.peak = max(self.peak, self.live)

    def _leave(self) -> None:
        with self.lock:
            self.live -= 1


class _GatedUpload(Upload):
    """Each write waits for a permit the producer hands out as it produces: writes lag behind."""

    def __init__(self, storage: _Counting, inner: Upload) -> None:
        self.storage, self.inner = storage, inner
        self.written = 0

    def write_part(self, number: int, offset: int, data: bytes) -> None:
        self.storage._enter()
        self.storage.gate.acquire()
        self.storage._leave()
        self.inner.write_part(number, offset, data)
        with self.storage.lock:
            self.written += 1

    def complete(self) -> None:
        self.inner.complete()

    def abort(self) -> None:
        self.inner.abort()


def test_upload_memory_is_bounded() -> None:
    uploads: list[_GatedUpload] = []

    class Gated(_Counting):
        def open_upload(self, name: str) -> Upload:
            uploads.append(_GatedUpload(self, super().open_upload(name)))
            return uploads[-1]

    storage = Gated()
    connections = 3

    def produce() -> Iterator[bytes]:
        for produced in range(1, 61):
            # segments produced but not yet written: in flight + waiting + being filled
            assert produced - uploads[0].written <= connections + 2
            storage.gate.release()
            yield b"s" * 10

    upload(storage, "o", produce(), segment_size=10, connections=connections)
    assert storage.objects["o"] == b"s" * 600
    assert storage.peak <= connections


def test_download_read_ahead_is_bounded_and_closing_stops_threads() -> None:
    storage = _Counting()
    segments = upload(storage, "o", [b"d" * 1000], segment_size=10, connections=4)
    held: list[int] = []
    original_get = MemoryStorage.get

    def get(name: str, offset: int = 0, length: int | None = None) -> bytes:
        storage._enter()
        held.append(storage.live)
        return original_get(storage, name, offset, length)

    storage.get = get  # type: ignore[method-assign]
    chunks = download(storage, "o", segments, segment_size=10, connections=3)
    for count, _chunk in enumerate(chunks):
        storage._leave()  # the consumer is done with this segment
        assert storage.live <= 3 + 1
        if count == 20:
            break
    chunks.close()
    alive = [t for t in threading.enumerate() if t.name.startswith("freezer-download")]
    assert alive == []
    assert max(held) <= 3 + 1


def test_transfers_release_free_heap_every_stretch_of_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once per HEAP_RELEASE_EVERY bytes each way: a long run's heap holes go back to the kernel."""
    import freezer_core.pipeline.transfer as transfer

    calls: list[str] = []
    monkeypatch.setattr(transfer, "HEAP_RELEASE_EVERY", 100)
    monkeypatch.setattr(transfer, "release_free_heap", lambda: calls.append("released") or True)
    storage = MemoryStorage()
    segments = upload(storage, "o", [b"x" * 1050], segment_size=30)  # 35 segments, 1050 bytes
    assert len(calls) == 10  # crossed 100, 200, ... 1000
    calls.clear()
    assert b"".join(download(storage, "o", segments, segment_size=30)) == b"x" * 1050
    assert len(calls) == 10


def test_release_free_heap_works_on_glibc() -> None:
    import platform

    from freezer_core.pipeline import release_free_heap

    assert release_free_heap() is (platform.libc_ver()[0] == "glibc")
