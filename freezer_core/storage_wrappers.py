"""Behaviour every storage gets from the core, never from plugin code.

* :class:`RetryingStorage` retries transient failures with exponential
  backoff; the storage itself says which errors are permanent
  (``is_permanent``), so a wrong password fails at once while a dropped
  connection is tried again.
* :class:`RateLimitedStorage` keeps uploads and downloads under
  ``--upload-limit`` / ``--download-limit`` bytes per second, in-process
  (upstream re-executed itself under ``trickle``).
* :class:`MultiStorage` writes every object to several storages and reads
  from whichever has it (``[storage:NAME]`` sections of a ``--config`` file).

Each wrapper is itself a :class:`~freezer_core.contract.Storage`, so they stack.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from freezer_core.contract import ObjectInfo, Storage, StorageProperties, Upload
from freezer_core.errors import FreezerError, ObjectNotFound, StorageError

LOG = logging.getLogger("freezer.storage")
T = TypeVar("T")


class _Wrapper(Storage):
    """Forwards everything to ``inner``; subclasses override what they change."""

    def __init__(self, inner: Storage) -> None:
        super().__init__(inner.container, inner.options)
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]

    def put(self, name: str, data: bytes) -> None:
        self.inner.put(name, data)

    def open_upload(self, name: str) -> Upload:
        return self.inner.open_upload(name)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        return self.inner.get(name, offset, length)

    def size(self, name: str) -> int | None:
        return self.inner.size(name)

    def list(self, prefix: str) -> list[str]:
        return self.inner.list(prefix)

    def walk(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self.inner.walk(prefix)

    def delete(self, name: str) -> None:
        self.inner.delete(name)

    def properties(self) -> StorageProperties:
        return self.inner.properties()

    def is_permanent(self, exc: BaseException) -> bool:
        return self.inner.is_permanent(exc)

    def describe(self) -> str:
        return self.inner.describe()

    def close(self) -> None:
        self.inner.close()


# ---------------------------------------------------------------- retries


class RetryingStorage(_Wrapper):
    """Retries transient errors: ``attempts`` tries, delays doubling up to ``max_delay``."""

    def __init__(self, inner: Storage, attempts: int = 5, base_delay: float = 0.5, max_delay: float = 20.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(inner)
        self.attempts = max(1, attempts)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.sleep = sleep

    def call(self, what: str, fn: Callable[[], T]) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except ObjectNotFound:
                raise
            except Exception as exc:
                if self.inner.is_permanent(exc) or attempt == self.attempts:
                    if isinstance(exc, FreezerError):
                        raise
                    raise StorageError(f"{what} on {self.describe()} failed: {exc}") from exc
                delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)
                LOG.warning("%s on %s failed (%s); retry %d/%d in %.1fs", what, self.describe(), exc,
                            attempt, self.attempts - 1, delay)
                self.sleep(delay)
        raise AssertionError("unreachable")

    def put(self, name: str, data: bytes) -> None:
        self.call(f"writing {name}", lambda: self.inner.put(name, data))

    def open_upload(self, name: str) -> Upload:
        return _RetryingUpload(self, self.call(f"starting upload of {name}", lambda: self.inner.open_upload(name)),
                               name)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        return self.call(f"reading {name}", lambda: self.inner.get(name, offset, length))

    def size(self, name: str) -> int | None:
        return self.call(f"checking {name}", lambda: self.inner.size(name))

    def list(self, prefix: str) -> list[str]:
        return self.call(f"listing {prefix or '/'}", lambda: self.inner.list(prefix))

    def walk(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return iter(self.call(f"listing {prefix or '/'}", lambda: list(self.inner.walk(prefix))))

    def delete(self, name: str) -> None:
        self.call(f"deleting {name}", lambda: self.inner.delete(name))


class _RetryingUpload(Upload):
    def __init__(self, storage: RetryingStorage, inner: Upload, name: str) -> None:
        self.storage, self.inner, self.name = storage, inner, name

    def write_part(self, number: int, offset: int, data: bytes) -> None:
        self.storage.call(f"writing part {number} of {self.name}",
                          lambda: self.inner.write_part(number, offset, data))

    def complete(self) -> None:
        self.storage.call(f"completing {self.name}", self.inner.complete)

    def abort(self) -> None:
        try:
            self.inner.abort()
        except Exception as exc:  # the upload failed already; report that, not this
            LOG.warning("could not abort the upload of %s: %s", self.name, exc)


# ---------------------------------------------------------------- bandwidth


class TokenBucket:
    """Lets ``rate`` bytes per second through, shared by every thread."""

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self.clock, self.sleep = clock, sleep
        self.lock = threading.Lock()
        self.available = 0.0
        self.last = clock()

    def take(self, amount: int) -> None:
        """Block until ``amount`` bytes may pass (large amounts go through in slices)."""
        while amount > 0:
            piece = min(amount, self.rate)
            with self.lock:
                now = self.clock()
                self.available = min(float(self.rate), self.available + (now - self.last) * self.rate)
                self.last = now
                self.available -= piece
                wait = -self.available / self.rate if self.available < 0 else 0.0
            if wait > 0:
                self.sleep(wait)
            amount -= piece


class RateLimitedStorage(_Wrapper):
    def __init__(self, inner: Storage, upload_limit: int, download_limit: int) -> None:
        super().__init__(inner)
        self.up = TokenBucket(upload_limit) if upload_limit > 0 else None
        self.down = TokenBucket(download_limit) if download_limit > 0 else None

    def put(self, name: str, data: bytes) -> None:
        if self.up:
            self.up.take(len(data))
        self.inner.put(name, data)

    def open_upload(self, name: str) -> Upload:
        inner = self.inner.open_upload(name)
        return _LimitedUpload(inner, self.up) if self.up else inner

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        data = self.inner.get(name, offset, length)
        if self.down:
            self.down.take(len(data))
        return data


class _LimitedUpload(Upload):
    def __init__(self, inner: Upload, bucket: TokenBucket) -> None:
        self.inner, self.bucket = inner, bucket

    def write_part(self, number: int, offset: int, data: bytes) -> None:
        self.bucket.take(len(data))
        self.inner.write_part(number, offset, data)

    def complete(self) -> None:
        self.inner.complete()

    def abort(self) -> None:
        self.inner.abort()


# ---------------------------------------------------------------- several storages


class MultiStorage(Storage):
    """Writes go to every storage and fail loudly if any fails; reads use the first that has the object.

    Listings are the union of every storage's, so a backup present in any one
    of them is found, and restore still works when a storage was lost.
    """

    name = "multiple"

    def __init__(self, storages: Sequence[Storage]) -> None:
        super().__init__(",".join(s.describe() for s in storages), {})
        self.storages = list(storages)

    def _all(self, what: str, fn: Callable[[Storage], Any]) -> None:
        errors = []
        for storage in self.storages:
            try:
                fn(storage)
            except FreezerError as exc:
                errors.append(f"{storage.describe()}: {exc}")
        if errors:
            raise StorageError(f"{what} failed on {len(errors)} of {len(self.storages)} storages: "
                               + "; ".join(errors))

    def put(self, name: str, data: bytes) -> None:
        self._all(f"writing {name}", lambda s: s.put(name, data))

    def open_upload(self, name: str) -> Upload:
        uploads: list[Upload] = []
        try:
            for storage in self.storages:
                uploads.append(storage.open_upload(name))
        except FreezerError:
            for upload in uploads:
                upload.abort()
            raise
        return _MultiUpload(self, uploads, name)

    def _first(self, name: str, fn: Callable[[Storage], T]) -> T:
        for storage in self.storages:
            try:
                return fn(storage)
            except ObjectNotFound:
                continue
        raise ObjectNotFound(f"{name} is in none of the storages ({self.describe()})")

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        return self._first(name, lambda s: s.get(name, offset, length) if s.size(name) is not None
                           else _missing(name))

    def size(self, name: str) -> int | None:
        return next((size for s in self.storages if (size := s.size(name)) is not None), None)

    def list(self, prefix: str) -> list[str]:
        return sorted({child for s in self.storages for child in s.list(prefix)})

    def walk(self, prefix: str = "") -> Iterator[ObjectInfo]:
        seen: dict[str, ObjectInfo] = {}
        for storage in self.storages:
            for info in storage.walk(prefix):
                seen.setdefault(info.name, info)
        yield from (seen[name] for name in sorted(seen))

    def delete(self, name: str) -> None:
        self._all(f"deleting {name}", lambda s: s.delete(name))

    def properties(self) -> StorageProperties:
        props = [s.properties() for s in self.storages]
        return StorageProperties(
            connections=min(p.connections for p in props),
            min_part_size=max(p.min_part_size for p in props),
            max_object_size=min((p.max_object_size for p in props if p.max_object_size), default=None),
            max_parts=min((p.max_parts for p in props if p.max_parts), default=None),
            borrows_parts=all(p.borrows_parts for p in props),
        )

    def describe(self) -> str:
        return " + ".join(s.describe() for s in self.storages)

    def close(self) -> None:
        for storage in self.storages:
            storage.close()


def _missing(name: str) -> bytes:
    raise ObjectNotFound(name)


class _MultiUpload(Upload):
    def __init__(self, owner: MultiStorage, uploads: list[Upload], name: str) -> None:
        self.owner, self.uploads, self.name = owner, uploads, name

    def write_part(self, number: int, offset: int, data: bytes) -> None:
        for upload in self.uploads:
            upload.write_part(number, offset, data)

    def complete(self) -> None:
        for upload in self.uploads:
            upload.complete()

    def abort(self) -> None:
        for upload in self.uploads:
            upload.abort()
