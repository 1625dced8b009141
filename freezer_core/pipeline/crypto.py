"""Streaming encryption: Freezer's authenticated format and OpenSSL ``enc`` compatibility.

Two formats (byte layouts in ``docs/formats.md``):

* ``freezer`` (the default): the STREAM construction of age and Tink's
  streaming AEAD.  A versioned header (KDF and its parameters, salt, nonce
  prefix, chunk size) is authenticated with the first chunk; each chunk is
  AES-256-GCM under a key derived with scrypt, with nonce = prefix ‖ counter ‖
  last-flag.  Wrong passwords, flipped bits, truncation, reordering and
  appended data are all detected, never turned into silently wrong output.
* ``openssl``: exactly what ``openssl enc -aes-256-cfb -pass file:F`` writes,
  which is what upstream Freezer stores.  It has no authentication, so it is
  only read for compatibility and written on request.

:func:`decryptor` recognises the format from the first bytes, so a restore
needs only the pass file.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

try:  # cryptography >= 47 keeps unauthenticated modes apart; OpenSSL compatibility needs CFB
    from cryptography.hazmat.decrepit.ciphers.modes import CFB as _CFB
except ImportError:  # pragma: no cover - older cryptography
    _CFB = modes.CFB  # type: ignore[misc,assignment]

from freezer_core.errors import DecryptionError, IntegrityError, ValidationError
from freezer_core.pipeline import Transform

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "ENCRYPTION_FORMATS",
    "FREEZER_MAGIC",
    "OPENSSL_MAGIC",
    "ScryptParams",
    "decryptor",
    "detect_format",
    "encryptor",
    "freezer_salt",
    "read_pass_file",
]

ENCRYPTION_FORMATS = ("freezer", "openssl")
FREEZER_MAGIC = b"\x89FRZENC\n"
OPENSSL_MAGIC = b"Salted__"
FORMAT_VERSION = 1
KDF_SCRYPT = 1
DEFAULT_CHUNK_SIZE = 1 << 20
MAX_CHUNK_SIZE = 64 << 20
TAG_SIZE = 16
_HEADER = struct.Struct(">8sBBBBB16s7sI")  # magic version kdf log2n r p salt prefix chunk
HEADER_SIZE = _HEADER.size
_MAX_COUNTER = 0xFFFFFFFF
_SCRYPT_MAX_MEMORY = 1 << 30
_PROBE = 262  # plaintext bytes needed to recognise a tar header ("ustar" at 257)
_PLAINTEXT_MAGICS = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")
_WRONG = "wrong password in --encrypt-pass-file, or the data is damaged"


def read_pass_file(path: str | os.PathLike[str]) -> bytes:
    """The password: the first line of the file, without its line ending (as ``openssl -pass file:``)."""
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ValidationError(f"cannot read --encrypt-pass-file {path}: {reason}") from None
    line = content.split(b"\n", 1)[0]
    if line.endswith(b"\r"):
        line = line[:-1]
    if not line:
        raise ValidationError(f"--encrypt-pass-file {path} is empty: put the password on its first line")
    return line


def detect_format(first_bytes: bytes) -> str | None:
    """``"freezer"``, ``"openssl"``, or None for data that is not encrypted (give at least 8 bytes)."""
    if first_bytes.startswith(FREEZER_MAGIC):
        return "freezer"
    if first_bytes.startswith(OPENSSL_MAGIC):
        return "openssl"
    return None


# ---------------------------------------------------------------- freezer format


class ScryptParams:
    """scrypt cost: N = 2**log2_n, r, p.  Recorded in each header so defaults can grow."""

    __slots__ = ("log2_n", "p", "r")

    def __init__(self, log2_n: int = 15, r: int = 8, p: int = 1) -> None:
        if not (1 <= log2_n <= 24 and 1 <= r <= 255 and 1 <= p <= 255):
            raise ValidationError(f"invalid scrypt parameters log2_n={log2_n} r={r} p={p}")
        if 128 * r * (1 << log2_n) > _SCRYPT_MAX_MEMORY:
            raise ValidationError(f"scrypt parameters log2_n={log2_n} r={r} need more than 1 GiB of memory")
        self.log2_n, self.r, self.p = log2_n, r, p


@functools.lru_cache(maxsize=32)
def _scrypt(passphrase: bytes, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    """Derive (and remember) the key: restoring many levels costs one KDF run per salt."""
    return Scrypt(salt=salt, length=32, n=1 << log2_n, r=r, p=p).derive(passphrase)


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + counter.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _cut(buf: bytearray, data: bytes, size: int) -> Iterator[bytes | bytearray | memoryview]:
    """Yield from ``buf`` + ``data`` every ``size``-byte chunk that more bytes follow; keep the rest in ``buf``.

    The last chunk of a stream is handled apart (it carries the last flag), so a
    full chunk at the end stays buffered until more data or the end shows which
    it is.  Only the chunk that straddles ``buf`` and ``data`` is copied, once,
    into ``buf``, which is yielded itself; the others are views of ``data``: a
    32 MiB segment is never joined or copied whole, which keeps restore memory
    at one segment.  Use each chunk before asking for the next (``buf`` is
    cleared after it), and consume the generator fully before the next call.
    """
    view = memoryview(data)
    if not view:
        return
    if buf:
        if len(buf) < size:
            take = size - len(buf)
            buf += view[:take]
            view = view[take:]
            if not view:
                return
        yield buf
        buf.clear()
    count = (len(view) - 1) // size
    for i in range(count):
        yield view[i * size : (i + 1) * size]
    buf += view[count * size :]


def freezer_salt(first_bytes: bytes) -> bytes | None:
    """The scrypt salt of data in Freezer's format made with the default KDF parameters, else None.

    Passing it back to :func:`encryptor` makes a new object under the same key without
    running scrypt again (the key is cached per salt): scrypt is slow on purpose, and
    a backup that reads its parent's state and writes data and state would otherwise
    pay for it three times.  Every object keeps its own random nonce prefix, so nonces
    stay unique under the shared key.
    """
    if len(first_bytes) < HEADER_SIZE or not first_bytes.startswith(FREEZER_MAGIC):
        return None
    _, version, kdf, log2_n, r, p, salt, _, _ = _HEADER.unpack_from(first_bytes)
    default = ScryptParams()
    if (version, kdf, log2_n, r, p) != (FORMAT_VERSION, KDF_SCRYPT, default.log2_n, default.r, default.p):
        return None
    return bytes(salt)


class _FreezerEncryptor:
    def __init__(self, passphrase: bytes, chunk_size: int, kdf: ScryptParams, salt: bytes | None = None) -> None:
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValidationError(
                f"encryption chunk size must be 1..{MAX_CHUNK_SIZE} bytes, not {chunk_size}"
            )
        if salt is not None and len(salt) != 16:
            raise ValidationError(f"an encryption salt is 16 bytes, not {len(salt)}")
        salt, self._prefix = salt or os.urandom(16), os.urandom(7)
        self._header = _HEADER.pack(
            FREEZER_MAGIC,
            FORMAT_VERSION,
            KDF_SCRYPT,
            kdf.log2_n,
            kdf.r,
            kdf.p,
            salt,
            self._prefix,
            chunk_size,
        )
        self._aead = AESGCM(_scrypt(passphrase, salt, kdf.log2_n, kdf.r, kdf.p))
        self._chunk_size = chunk_size
        self._buf = bytearray()
        self._counter = 0
        self._header_sent = False
        self._finished = False

    def _seal(self, plaintext: bytes | bytearray | memoryview, last: bool) -> bytes:
        if self._counter > _MAX_COUNTER:
            raise ValidationError(
                "stream too long for one encrypted object: use a larger encryption chunk size"
            )
        aad = self._header if self._counter == 0 else None
        sealed = self._aead.encrypt(_nonce(self._prefix, self._counter, last), plaintext, aad)
        self._counter += 1
        return sealed

    def _start(self) -> list[bytes]:
        if self._header_sent:
            return []
        self._header_sent = True
        return [self._header]

    def update_iter(self, data: bytes) -> Iterator[bytes]:
        yield from self._start()
        # A full chunk is only sealed once more data follows: the last chunk carries the last flag.
        for chunk in _cut(self._buf, data, self._chunk_size):
            yield self._seal(chunk, last=False)

    def finish_iter(self) -> Iterator[bytes]:
        if self._finished:
            raise ValidationError("an encrypted stream was finished twice: this is a bug, please report it")
        self._finished = True
        yield from self._start()
        yield self._seal(bytes(self._buf), last=True)
        self._buf.clear()

    def update(self, data: bytes) -> bytes:
        return b"".join(self.update_iter(data))

    def finish(self) -> bytes:
        return b"".join(self.finish_iter())


class _FreezerDecryptor:
    def __init__(self, passphrase: bytes) -> None:
        self._passphrase = passphrase
        self._buf = bytearray()
        self._header: bytes | None = None
        self._aead: AESGCM | None = None
        self._prefix = b""
        self._sealed_size = 0
        self._counter = 0

    def _parse_header(self) -> None:
        magic, version, kdf, log2_n, r, p, salt, prefix, chunk = _HEADER.unpack_from(self._buf)
        if magic != FREEZER_MAGIC:
            raise DecryptionError(f"cannot decrypt: the data does not start with a Freezer header: {_WRONG}")
        if version != FORMAT_VERSION:
            raise DecryptionError(
                f"cannot decrypt: encryption format version {version} is not supported "
                "(upgrade Freezer), or the data is damaged"
            )
        if kdf != KDF_SCRYPT or not 1 <= chunk <= MAX_CHUNK_SIZE:
            raise DecryptionError(
                f"cannot decrypt: the encryption header is damaged (kdf {kdf}, chunk {chunk})"
            )
        try:
            params = ScryptParams(log2_n, r, p)
        except ValidationError:
            raise DecryptionError(
                "cannot decrypt: the encryption header is damaged (scrypt parameters)"
            ) from None
        self._header = bytes(self._buf[:HEADER_SIZE])
        del self._buf[:HEADER_SIZE]
        self._aead = AESGCM(_scrypt(self._passphrase, salt, params.log2_n, params.r, params.p))
        self._prefix = prefix
        self._sealed_size = chunk + TAG_SIZE

    def _open(self, sealed: bytes | bytearray | memoryview, last: bool) -> bytes:
        assert self._aead is not None
        aad = self._header if self._counter == 0 else None
        try:
            plain = self._aead.decrypt(_nonce(self._prefix, self._counter, last), sealed, aad)
        except InvalidTag:
            raise self._explain(sealed, last) from None
        self._counter += 1
        return plain

    def _explain(self, sealed: bytes | bytearray | memoryview, last: bool) -> IntegrityError:
        """Turn a failed chunk into the most useful message (trying the other last flag)."""
        assert self._aead is not None
        aad = self._header if self._counter == 0 else None
        try:
            self._aead.decrypt(_nonce(self._prefix, self._counter, not last), sealed, aad)
        except InvalidTag:
            if self._counter == 0:
                return DecryptionError(f"cannot decrypt: {_WRONG}")
            return IntegrityError(
                f"encrypted chunk {self._counter} is damaged, truncated or out of order: "
                "the backup cannot be restored"
            )
        if last:
            return IntegrityError(
                f"encrypted data is truncated after chunk {self._counter}: the backup is incomplete"
            )
        return IntegrityError(
            f"unexpected data after the last encrypted chunk ({self._counter}): the backup is damaged"
        )

    def update_iter(self, data: bytes) -> Iterator[bytes]:
        if self._aead is None:
            # Buffer the header only: the rest may be a whole 32 MiB segment, not worth a copy.
            need = HEADER_SIZE - len(self._buf)
            self._buf += data[:need]
            if len(self._buf) < HEADER_SIZE:
                return
            data = memoryview(data)[need:]  # type: ignore[assignment]
            self._parse_header()
        # Only a chunk followed by more data can be a non-final one.
        for chunk in _cut(self._buf, data, self._sealed_size):
            yield self._open(chunk, last=False)

    def finish_iter(self) -> Iterator[bytes]:
        yield self.finish()

    def update(self, data: bytes) -> bytes:
        return b"".join(self.update_iter(data))

    def finish(self) -> bytes:
        if self._aead is None:
            raise IntegrityError("encrypted data is truncated inside its header: the backup is incomplete")
        if len(self._buf) < TAG_SIZE:
            raise IntegrityError(
                f"encrypted data is truncated after chunk {self._counter}: the backup is incomplete"
            )
        plain = self._open(bytes(self._buf), last=True)
        self._buf.clear()
        return plain


# ---------------------------------------------------------------- openssl format


def _bytes_to_key(passphrase: bytes, salt: bytes, digest: Callable[[bytes], bytes]) -> tuple[bytes, bytes]:
    """OpenSSL's EVP_BytesToKey with one iteration: D_i = H(D_{i-1} ‖ pass ‖ salt)."""
    material, block = b"", b""
    while len(material) < 48:
        block = digest(block + passphrase + salt)
        material += block
    return material[:32], material[32:48]


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def _cfb(key: bytes, iv: bytes, encrypt: bool) -> Callable[[bytes], bytes]:
    cipher = Cipher(algorithms.AES(key), _CFB(iv))
    ctx = cipher.encryptor() if encrypt else cipher.decryptor()
    return ctx.update


def _recognised(plaintext: bytes) -> bool:
    """True when ``plaintext`` starts like a stream Freezer stores (compressed or tar)."""
    if not plaintext:
        return True
    return plaintext.startswith(_PLAINTEXT_MAGICS) or plaintext[257:262] == b"ustar"


class _OpenSSLEncryptor:
    """``openssl enc -aes-256-cfb`` (OpenSSL >= 1.1 key derivation: SHA-256)."""

    def __init__(self, passphrase: bytes) -> None:
        salt = os.urandom(8)
        key, iv = _bytes_to_key(passphrase, salt, _sha256)
        self._header: bytes | None = OPENSSL_MAGIC + salt
        self._update = _cfb(key, iv, encrypt=True)
        self._probe = bytearray()

    def _check(self, data: bytes, final: bool) -> None:
        # The format has no authentication: a reader tells the key derivations apart by
        # the plaintext's magic, so refuse to write what could not be read back.
        if len(self._probe) >= _PROBE:
            return
        self._probe += data[: _PROBE - len(self._probe)]
        if (len(self._probe) >= _PROBE or final) and not _recognised(bytes(self._probe)):
            raise ValidationError(
                "the openssl encryption format needs compressed or tar data: "
                "choose a compression, or the freezer encryption format"
            )

    def update(self, data: bytes) -> bytes:
        self._check(data, final=False)
        out = self._update(data)
        if self._header is not None:
            out, self._header = self._header + out, None
        return out

    def finish(self) -> bytes:
        self._check(b"", final=True)
        out, self._header = self._header or b"", None
        return out


class _OpenSSLDecryptor:
    """Reads both key derivations; which one was used is decided from the plaintext's magic."""

    def __init__(self, passphrase: bytes) -> None:
        self._passphrase = passphrase
        self._buf = bytearray()
        self._update: Callable[[bytes], bytes] | None = None

    def _choose(self) -> bytes:
        salt, probe = bytes(self._buf[8:16]), bytes(self._buf[16:])
        for digest in (_sha256, _md5):
            key, iv = _bytes_to_key(self._passphrase, salt, digest)
            update = _cfb(key, iv, encrypt=False)
            plain = update(probe)
            if _recognised(plain):
                self._update = update
                self._buf.clear()
                return plain
        raise DecryptionError(f"cannot decrypt OpenSSL-encrypted data: {_WRONG}")

    def update(self, data: bytes) -> bytes:
        if self._update is not None:
            return self._update(data)
        self._buf += data
        if len(self._buf) < 16 + _PROBE:
            return b""
        return self._choose()

    def finish(self) -> bytes:
        if self._update is not None:
            return b""
        if len(self._buf) < 16:
            raise IntegrityError(
                "OpenSSL-encrypted data is truncated inside its header: the backup is incomplete"
            )
        return self._choose()


# ---------------------------------------------------------------- entry points


def encryptor(
    passphrase: bytes,
    fmt: str = "freezer",
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    kdf: ScryptParams | None = None,
    salt: bytes | None = None,
) -> Transform:
    """An encrypting transform; ``chunk_size``, ``kdf`` and ``salt`` apply to the freezer format only.

    ``salt`` (16 bytes, default: random) reuses the key of an earlier object (see :func:`freezer_salt`).
    """
    if not passphrase:
        raise ValidationError(
            "the encryption password is empty: put it on the first line of --encrypt-pass-file"
        )
    if fmt == "freezer":
        return _FreezerEncryptor(passphrase, chunk_size, kdf or ScryptParams(), salt)
    if fmt == "openssl":
        return _OpenSSLEncryptor(passphrase)
    raise ValidationError(f"unknown encryption format '{fmt}': choose one of {', '.join(ENCRYPTION_FORMATS)}")


class _AutoDecryptor:
    """Waits for the first 8 bytes, then hands the stream to the right format."""

    def __init__(self, passphrase: bytes) -> None:
        self._passphrase = passphrase
        self._buf = b""
        self._inner: Transform | None = None

    def _pick(self) -> Transform:
        fmt = detect_format(self._buf)
        if fmt == "freezer":
            return _FreezerDecryptor(self._passphrase)
        if fmt == "openssl":
            return _OpenSSLDecryptor(self._passphrase)
        raise DecryptionError(
            "cannot decrypt: the data is not in a known encrypted format; restore without "
            "--encrypt-pass-file if the backup is not encrypted, otherwise the data is damaged"
        )

    def update_iter(self, data: bytes) -> Iterator[bytes]:
        if self._inner is None:
            self._buf += data
            if len(self._buf) < len(FREEZER_MAGIC):
                return
            self._inner = self._pick()
            data, self._buf = self._buf, b""
        update_iter = getattr(self._inner, "update_iter", None)
        if update_iter is None:
            yield self._inner.update(data)
        else:
            yield from update_iter(data)

    def finish_iter(self) -> Iterator[bytes]:
        yield self.finish()

    def update(self, data: bytes) -> bytes:
        return b"".join(self.update_iter(data))

    def finish(self) -> bytes:
        if self._inner is None:
            self._inner = self._pick()  # fewer than 8 bytes: raises
        return self._inner.finish()


def decryptor(passphrase: bytes) -> Transform:
    """A decrypting transform for either format, recognised from the first bytes."""
    if not passphrase:
        raise ValidationError(
            "the encryption password is empty: put it on the first line of --encrypt-pass-file"
        )
    return _AutoDecryptor(passphrase)
