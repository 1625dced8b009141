"""Encryption: both formats round-trip, interoperate with OpenSSL, and never yield wrong plaintext."""

from __future__ import annotations

import gzip
import itertools
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freezer_core.errors import DecryptionError, IntegrityError, ValidationError
from freezer_core.pipeline import apply
from freezer_core.pipeline.crypto import (
    FREEZER_MAGIC,
    HEADER_SIZE,
    TAG_SIZE,
    ScryptParams,
    _scrypt,
    decryptor,
    detect_format,
    encryptor,
    freezer_salt,
    read_pass_file,
)

FAST = ScryptParams(log2_n=4, r=8, p=1)  # cheap KDF: the tests are about the format, not the cost
PW = b"correct horse"


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


def _enc(data: bytes, chunk_size: int = 64, fmt: str = "freezer", pw: bytes = PW) -> bytes:
    transform = encryptor(pw, fmt, chunk_size=chunk_size, kdf=FAST)
    return b"".join(apply(_split(data, [7, 100, 1000]), transform))


def _dec(data: bytes, pw: bytes = PW, cuts: list[int] | None = None) -> bytes:
    return b"".join(apply(_split(data, cuts or []), decryptor(pw)))


# ---------------------------------------------------------------- pass file


def test_pass_file_first_line(tmp_path: Path) -> None:
    for content, expected in [
        (b"secret\n", b"secret"),
        (b"secret\r\nignored\n", b"secret"),
        (b"s p", b"s p"),
    ]:
        path = tmp_path / "pf"
        path.write_bytes(content)
        assert read_pass_file(path) == expected


def test_pass_file_problems_name_the_option(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="--encrypt-pass-file"):
        read_pass_file(tmp_path / "missing")
    (tmp_path / "empty").write_bytes(b"\nsecond line\n")
    with pytest.raises(ValidationError, match="--encrypt-pass-file"):
        read_pass_file(tmp_path / "empty")


# ---------------------------------------------------------------- freezer format


@settings(max_examples=80, deadline=None)
@given(
    data=st.binary(max_size=3000),
    chunk_size=st.integers(1, 300),
    cuts=st.lists(st.integers(min_value=0), max_size=10),
)
def test_freezer_round_trip_any_boundaries(data: bytes, chunk_size: int, cuts: list[int]) -> None:
    sealed = b"".join(apply(_split(data, cuts), encryptor(PW, chunk_size=chunk_size, kdf=FAST)))
    assert detect_format(sealed) == "freezer"
    full, rest = divmod(len(data), chunk_size)
    chunks = full + 1 if rest or not data else full  # a full final chunk carries the last flag itself
    assert len(sealed) == HEADER_SIZE + len(data) + TAG_SIZE * chunks
    assert _dec(sealed, cuts=cuts) == data


def test_default_format_and_header() -> None:
    sealed = b"".join(apply([b"x" * 10], encryptor(PW, kdf=FAST)))
    assert sealed.startswith(FREEZER_MAGIC)
    assert sealed[8] == 1 and sealed[9] == 1 and sealed[10:13] == bytes([4, 8, 1])
    assert int.from_bytes(sealed[36:40], "big") == 1 << 20
    assert _dec(sealed) == b"x" * 10


def test_same_plaintext_encrypts_differently() -> None:
    assert _enc(b"same") != _enc(b"same")


def test_wrong_password() -> None:
    sealed = _enc(b"secret data" * 50)
    with pytest.raises(DecryptionError, match="wrong password in --encrypt-pass-file"):
        _dec(sealed, pw=b"not it")


def test_every_sampled_flipped_byte_is_detected() -> None:
    sealed = _enc(os.urandom(500), chunk_size=100)
    positions = sorted(set(range(HEADER_SIZE)) | set(range(HEADER_SIZE, len(sealed), 7)) | {len(sealed) - 1})
    for pos in positions:
        for bit in (0x01, 0x80):
            damaged = bytearray(sealed)
            damaged[pos] ^= bit
            with pytest.raises(IntegrityError):
                _dec(bytes(damaged))


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=0), cuts=st.lists(st.integers(min_value=0), max_size=4))
def test_truncation_anywhere_is_detected(cut: int, cuts: list[int]) -> None:
    sealed = _enc(bytes(range(256)) * 3, chunk_size=50)
    truncated = sealed[: cut % len(sealed)]
    with pytest.raises(IntegrityError):
        _dec(truncated, cuts=cuts)


def test_truncation_at_a_chunk_boundary_says_truncated() -> None:
    sealed = _enc(b"a" * 500, chunk_size=100)
    with pytest.raises(IntegrityError, match="truncated after chunk 2"):
        _dec(sealed[: HEADER_SIZE + 3 * (100 + TAG_SIZE)])


def test_swapped_chunks_are_detected() -> None:
    size = 100 + TAG_SIZE
    sealed = _enc(os.urandom(450), chunk_size=100)
    body = sealed[HEADER_SIZE:]
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    chunks[1], chunks[2] = chunks[2], chunks[1]
    with pytest.raises(IntegrityError, match="chunk 1 is damaged, truncated or out of order"):
        _dec(sealed[:HEADER_SIZE] + b"".join(chunks))


@pytest.mark.parametrize("extra", [b"x", b"\0" * 16, b"garbage after the end" * 20])
def test_appended_data_is_detected(extra: bytes) -> None:
    with pytest.raises(IntegrityError):
        _dec(_enc(b"payload" * 40, chunk_size=100) + extra)


def test_appended_whole_stream_is_detected() -> None:
    sealed = _enc(b"p" * 300, chunk_size=100)  # the final chunk is full, so chunk borders still line up
    with pytest.raises(IntegrityError, match="after the last encrypted chunk"):
        _dec(sealed + sealed[HEADER_SIZE:])


def test_unknown_version_and_plaintext_are_refused() -> None:
    sealed = bytearray(_enc(b"data"))
    sealed[8] = 9
    with pytest.raises(DecryptionError, match="version 9 is not supported"):
        _dec(bytes(sealed))
    with pytest.raises(DecryptionError, match="not in a known encrypted format"):
        _dec(gzip.compress(b"plain"))


def test_kdf_results_are_cached() -> None:
    sealed = _enc(b"levels")
    _dec(sealed)
    hits = _scrypt.cache_info().hits
    _dec(sealed)
    assert _scrypt.cache_info().hits == hits + 1


def test_bad_arguments() -> None:
    with pytest.raises(ValidationError, match="freezer, openssl"):
        encryptor(PW, "rot13")
    with pytest.raises(ValidationError, match="--encrypt-pass-file"):
        encryptor(b"")
    with pytest.raises(ValidationError):
        ScryptParams(log2_n=30)


# ---------------------------------------------------------------- openssl format


@pytest.fixture
def pass_file(tmp_path: Path) -> Path:
    path = tmp_path / "pass"
    path.write_bytes(PW + b"\n")
    return path


def _openssl(args: list[str], data: bytes, pass_file: Path) -> bytes:
    argv = ["openssl", "enc", *args, "-aes-256-cfb", "-pass", f"file:{pass_file}"]
    return subprocess.run(argv, input=data, capture_output=True, check=True).stdout


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=2000), cuts=st.lists(st.integers(min_value=0), max_size=6))
def test_openssl_round_trip(data: bytes, cuts: list[int]) -> None:
    plain = gzip.compress(data)
    sealed = b"".join(apply(_split(plain, cuts), encryptor(PW, "openssl")))
    assert sealed.startswith(b"Salted__") and len(sealed) == 16 + len(plain)
    assert _dec(sealed, cuts=cuts) == plain


def test_openssl_cli_decrypts_ours(pass_file: Path) -> None:
    plain = gzip.compress(os.urandom(100_000))
    sealed = b"".join(apply(_split(plain, [5, 999, 5000]), encryptor(PW, "openssl")))
    assert _openssl(["-d"], sealed, pass_file) == plain


@pytest.mark.parametrize("md", [[], ["-md", "sha256"], ["-md", "md5"]])
def test_we_decrypt_openssl_cli(md: list[str], pass_file: Path) -> None:
    plain = gzip.compress(os.urandom(70_000))
    sealed = _openssl(md, plain, pass_file)
    assert _dec(sealed, cuts=[3, 17, 4000]) == plain
    with pytest.raises(DecryptionError, match="wrong password"):
        _dec(sealed, pw=b"wrong")


def test_we_decrypt_openssl_uncompressed_tar(pass_file: Path) -> None:
    plain = bytes(257) + b"ustar\x0000" + bytes(1000)
    assert _dec(_openssl(["-md", "md5"], plain, pass_file)) == plain


def test_openssl_format_refuses_what_it_could_not_read_back() -> None:
    with pytest.raises(ValidationError, match="needs compressed or tar data"):
        b"".join(apply([b"raw bytes that no magic matches" * 20], encryptor(PW, "openssl")))
    assert _dec(b"".join(apply([], encryptor(PW, "openssl")))) == b""


def test_openssl_truncated_header() -> None:
    with pytest.raises(IntegrityError, match="truncated"):
        _dec(b"Salted__abc")


def test_a_reused_salt_shares_the_key_not_the_nonces() -> None:
    """An action encrypts its data and its state under one key (one scrypt run); nonce prefixes stay apart."""
    first = _enc(b"data of the backup")
    assert freezer_salt(first) is None  # FAST parameters: not the default cost, nothing to reuse
    default = b"".join(apply([b"state"], encryptor(PW)))
    salt = freezer_salt(default)
    assert salt is not None and len(salt) == 16
    again = b"".join(apply([b"state"], encryptor(PW, salt=salt)))
    prefix = slice(HEADER_SIZE - 11, HEADER_SIZE - 4)
    assert freezer_salt(again) == salt and again[prefix] != default[prefix]
    assert b"".join(apply([again], decryptor(PW))) == b"state"
    assert freezer_salt(b"plain data, not encrypted at all, long enough for a header") is None
    with pytest.raises(ValidationError, match="16 bytes"):
        encryptor(PW, salt=b"short")
