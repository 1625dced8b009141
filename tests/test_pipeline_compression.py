"""Compression: standard formats both ways, damage detected, memory bounded."""

from __future__ import annotations

import gzip
import io
import itertools
import os
import random
import shutil
import subprocess
import tarfile
import zlib

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freezer_core.errors import IntegrityError, ValidationError
from freezer_core.pipeline import apply
from freezer_core.pipeline import compression as comp
from freezer_core.pipeline.compression import COMPRESSIONS, OUTPUT_LIMIT, compressor, decompressor

REAL = [c for c in COMPRESSIONS if c != "none"]
CLI = {"gzip": ["gzip", "-dc"], "bzip2": ["bzip2", "-dc"], "xz": ["xz", "-dc"], "zstd": ["zstd", "-dc"]}


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def _compress(name: str, data: bytes) -> bytes:
    return b"".join(apply([data], compressor(name)))


def _decompress(name: str, chunks: list[bytes]) -> bytes:
    return b"".join(apply(chunks, decompressor(name)))


@pytest.fixture(params=["isal", "zlib"])
def gzip_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "zlib":
        monkeypatch.setattr(comp, "_isal_zlib", None)
    else:
        assert comp._isal_zlib is not None, "isal is a dependency of freezer-core: reinstall it"
    return request.param


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(COMPRESSIONS),
    data=st.binary(max_size=5000)
    | st.builds(lambda n, b: b * n, st.integers(0, 3000), st.binary(min_size=1, max_size=3)),
    cuts=st.lists(st.integers(min_value=0), max_size=8),
)
def test_round_trip_with_any_chunking(gzip_backend: str, name: str, data: bytes, cuts: list[int]) -> None:
    compressed = b"".join(apply(_split(data, cuts), compressor(name)))
    assert _decompress(name, _split(compressed, cuts)) == data
    # the plain update/finish interface gives the same bytes as the bounded one
    dec = decompressor(name)
    assert b"".join(dec.update(c) for c in _split(compressed, cuts)) + dec.finish() == data


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ValidationError, match="gzip, bzip2, xz, zstd, none"):
        compressor("lz4")
    with pytest.raises(ValidationError, match="choose one of"):
        decompressor("rar")


@pytest.mark.parametrize("name", REAL)
def test_command_line_tools_read_our_output(name: str, gzip_backend: str) -> None:
    if shutil.which(CLI[name][0]) is None:
        pytest.fail(f"{CLI[name][0]} is required for this test")
    data = os.urandom(50_000) + b"freezer " * 20_000
    out = subprocess.run(CLI[name], input=_compress(name, data), capture_output=True, check=True)
    assert out.stdout == data


def test_zstd_is_independent_frames_of_frame_size() -> None:
    """Each frame compresses on its own CPU; together they are one stream for ``zstd -d``."""
    data = os.urandom(comp.FRAME_SIZE) + b"freezer " * (comp.FRAME_SIZE // 8) + b"tail"
    stream = _compress("zstd", data)
    sizes = []
    rest = stream
    while rest:
        params = zstandard.get_frame_parameters(rest)
        assert params.has_checksum
        sizes.append(params.content_size)
        one = zstandard.ZstdDecompressor().decompressobj()
        one.decompress(rest)
        rest = one.unused_data
    assert sizes == [comp.FRAME_SIZE, comp.FRAME_SIZE, 4]
    out = subprocess.run(CLI["zstd"], input=stream, capture_output=True, check=True)
    assert out.stdout == data


def _log_lines(size: int) -> bytes:
    """Log-like text (what increments are often made of), deterministic."""
    rng = random.Random(7)
    words = ["GET", "POST", "/api/v1/jobs", "/healthz", "200", "404", "INFO", "WARN", "served", "in", "ms"]
    out = bytearray()
    while len(out) < size:
        out += f"2026-11-26T12:{rng.randrange(60):02d}:{rng.randrange(60):02d} ".encode()
        out += " ".join(rng.choice(words) for _ in range(rng.randrange(4, 12))).encode()
        out += f" {rng.randrange(100000)}\n".encode()
    return bytes(out[:size])


def test_gzip_favouring_size_writes_no_more_than_one_zlib_6_stream() -> None:
    """Increments ask for it: zlib 9 instead of ISA-L, whose speed costs size on logs."""
    assert comp._isal_zlib is not None, "isal is a dependency of freezer-core: reinstall it"
    data = _log_lines(2 * comp.FRAME_SIZE + 12345)
    dense = b"".join(apply([data], compressor("gzip", favour_size=True)))
    fast = _compress("gzip", data)
    assert gzip.decompress(dense) == data
    one_stream = zlib.compressobj(6, zlib.DEFLATED, 31)
    reference = one_stream.compress(data) + one_stream.flush()
    assert len(dense) <= len(reference)  # three independent members, yet no larger than one zlib -6 stream
    assert len(dense) < len(fast)


def test_tar_z_reads_our_gzip(tmp_path: os.PathLike[str], gzip_backend: str) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    archive = _compress("gzip", buf.getvalue())
    listing = subprocess.run(["tar", "-tzf", "-"], input=archive, capture_output=True, check=True)
    assert listing.stdout.decode().split() == ["hello.txt"]


@pytest.mark.parametrize("name", REAL)
def test_concatenated_members_and_zero_padding(name: str) -> None:
    one, two = _compress(name, b"first "), _compress(name, b"second")
    assert _decompress(name, [one + two + b"\0" * 8]) == b"first second"


def test_reads_real_gzip_members() -> None:
    stream = (
        gzip.compress(b"a" * 1000)
        + subprocess.run(["gzip", "-c"], input=b"b" * 1000, capture_output=True, check=True).stdout
    )
    assert _decompress("gzip", [stream]) == b"a" * 1000 + b"b" * 1000


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(REAL), cut=st.floats(0, 1, exclude_max=True), seed=st.binary(min_size=1))
def test_truncation_anywhere_is_detected(name: str, cut: float, seed: bytes) -> None:
    compressed = _compress(name, seed * 500 + os.urandom(3000))
    with pytest.raises(IntegrityError, match="compressed data is corrupted"):
        _decompress(name, [compressed[: int(len(compressed) * cut)]])


@pytest.mark.parametrize("name", REAL)
@pytest.mark.parametrize("garbage", [b"x", b"not compressed data at all", b"\0\0\0junk"])
def test_garbage_is_detected(name: str, garbage: bytes) -> None:
    with pytest.raises(IntegrityError, match="compressed data is corrupted"):
        _decompress(name, [_compress(name, b"payload" * 100) + garbage])
    with pytest.raises(IntegrityError, match="compressed data is corrupted"):
        _decompress(name, [garbage + b"more garbage bytes"])


@pytest.mark.parametrize("name", REAL)
def test_flipped_byte_in_the_middle_is_detected(name: str) -> None:
    compressed = bytearray(_compress(name, os.urandom(20_000)))
    compressed[len(compressed) // 2] ^= 0x40
    with pytest.raises(IntegrityError):
        _decompress(name, [bytes(compressed)])


@pytest.mark.parametrize("name", REAL)
def test_empty_input_is_not_a_valid_stream(name: str) -> None:
    assert _decompress(name, [_compress(name, b"")]) == b""
    with pytest.raises(IntegrityError):
        _decompress(name, [])


@pytest.mark.parametrize("name", REAL)
def test_decompressed_pieces_are_bounded(name: str) -> None:
    size = 40 * OUTPUT_LIMIT
    enc = compressor(name)
    compressed = b"".join(apply((bytes(OUTPUT_LIMIT) for _ in range(40)), enc))
    assert len(compressed) < size // 100  # zeros compress hugely: the case that needs bounding
    total = 0
    for piece in apply([compressed], decompressor(name)):
        assert len(piece) <= OUTPUT_LIMIT
        assert piece.count(0) == len(piece)
        total += len(piece)
    assert total == size


def test_gzip_levels_map_and_validate(gzip_backend: str) -> None:
    data = b"level " * 1000
    for level in (0, 1, 6, 9):
        assert zlib.decompress(_compress_level("gzip", data, level), 31) == data
    with pytest.raises(ValidationError, match="out of range"):
        compressor("gzip", 10)


def _compress_level(name: str, data: bytes, level: int) -> bytes:
    return b"".join(apply([data], compressor(name, level)))


def _zstd_frame(data: bytes, kind: str) -> bytes:
    """A frame as Freezer writes it (content size in the header), or as a streaming writer does (none)."""
    if kind == "sized":
        return zstandard.ZstdCompressor(write_checksum=True).compress(data)
    obj = zstandard.ZstdCompressor(write_content_size=False).compressobj()
    return obj.compress(data) + obj.flush()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frames=st.lists(
        st.tuples(st.sampled_from(["sized", "streamed"]),
                  st.sampled_from([0, 1, 5000, OUTPUT_LIMIT, OUTPUT_LIMIT + 1])),
        min_size=1, max_size=4),
    cuts=st.lists(st.integers(min_value=0), max_size=6),
)
def test_zstd_frames_of_every_kind_decompress_in_bounded_pieces(
    frames: list[tuple[str, int]], cuts: list[int]
) -> None:
    """Sized frames up to OUTPUT_LIMIT are decompressed whole, the others block by block: same bytes, same bound."""
    contents = [(bytes([n % 251]) * size)[: size // 2] + random.Random(n).randbytes(size - size // 2)
                for n, (_, size) in enumerate(frames)]
    stream = b"".join(_zstd_frame(data, kind) for (kind, _), data in zip(frames, contents, strict=True))
    pieces = list(apply(_split(stream, cuts), decompressor("zstd")))
    assert all(len(piece) <= OUTPUT_LIMIT for piece in pieces)
    assert b"".join(pieces) == b"".join(contents)


def test_a_zstd_frame_whose_header_lies_about_its_size_is_detected() -> None:
    frame = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(b"x" * 1000))
    assert frame[4] >> 5 == 0b011  # a single segment (no window byte), a two-byte size field (size - 256)
    assert int.from_bytes(frame[5:7], "little") + 256 == 1000
    frame[5:7] = (900 - 256).to_bytes(2, "little")
    with pytest.raises(IntegrityError, match="compressed data is corrupted"):
        _decompress("zstd", [bytes(frame)])
