"""One large object written as one S3 multipart upload.

S3 rules shape this class: every part but the last must be at least 5 MiB,
part numbers run from 1 to 10000, and the object appears only when the
upload is completed with the list of parts and their ETags.  The core sends
parts of at least ``min_part_size`` (only the last is shorter), in parallel
and in any order, and may send a part twice when it retries.

Parts below the S3 minimum are kept in memory instead of being sent at once,
because a short part is only legal as the last one and which part is last is
known only at ``complete()``.  That also means a small object never starts a
multipart upload: it is written with one ``put_object``, so an empty or tiny
backup leaves no pending upload behind even if the run dies.

A part is done with when ``upload_part`` returns (botocore retries inside the
call), so the storage borrows parts: the core lends a view of a buffer it
refills, and botocore reads it through :class:`_PartReader`.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from freezer_core.contract import Upload
from freezer_core.errors import StorageError, ValidationError
from freezer_storage_s3._errors import error_code

if TYPE_CHECKING:
    from freezer_storage_s3 import S3Storage

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10_000


class S3Upload(Upload):
    """Parts go to S3 as they come; ETags are recorded and sorted at completion."""

    def __init__(self, storage: S3Storage, name: str) -> None:
        self.storage = storage
        self.name = name
        self.key = storage.key(name)
        self._lock = threading.Lock()
        self._upload_id: str | None = None
        self._checksum: str | None = None
        self._aborted = False
        self._parts: dict[int, dict[str, Any]] = {}
        """0-based part number -> the CompleteMultipartUpload entry for it."""
        self._sizes: dict[int, int] = {}
        self._small: dict[int, bytes] = {}
        """Parts below the S3 minimum, held until we know whether they are last."""

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        return self.storage.call(f"{what} of {self.name}", fn, writing=True)

    def _started(self) -> str:
        """The multipart upload's id, created on the first full-size part."""
        with self._lock:
            if self._aborted:
                raise StorageError(f"the upload of {self.name} was aborted: start the backup again")
            if self._upload_id is None:
                client, bucket = self.storage.client, self.storage.bucket
                created = self._call("starting the upload",
                                     lambda: client.create_multipart_upload(Bucket=bucket, Key=self.key))
                self._upload_id = str(created["UploadId"])
                self._checksum = created.get("ChecksumAlgorithm")
            return self._upload_id

    def _send(self, number: int, data: bytes | memoryview) -> None:
        upload_id = self._started()
        client, bucket = self.storage.client, self.storage.bucket
        # A new reader per attempt: a retry after creating the bucket starts from the first byte.
        sent = self._call(f"writing part {number}", lambda: client.upload_part(
            Bucket=bucket, Key=self.key, UploadId=upload_id, PartNumber=number + 1, Body=_PartReader(data)))
        entry: dict[str, Any] = {"PartNumber": number + 1, "ETag": sent["ETag"]}
        if self._checksum and sent.get(f"Checksum{self._checksum}"):
            entry[f"Checksum{self._checksum}"] = sent[f"Checksum{self._checksum}"]
        with self._lock:
            self._parts[number] = entry
            self._sizes[number] = len(data)
            self._small.pop(number, None)

    def write_part(self, number: int, offset: int, data: bytes) -> None:
        if not 0 <= number < MAX_PARTS:
            raise ValidationError(
                f"{self.name} needs more than {MAX_PARTS} parts, the S3 limit: raise --max-segment-size "
                f"(e.g. to {_suggest(offset + len(data), number)}) so the backup fits")
        if len(data) >= MIN_PART_SIZE:
            self._send(number, data)
            return
        with self._lock:
            if self._aborted:
                raise StorageError(f"the upload of {self.name} was aborted: start the backup again")
            self._small[number] = bytes(data)
            self._sizes[number] = len(data)
            self._parts.pop(number, None)

    def complete(self) -> None:
        with self._lock:
            numbers = sorted(self._sizes)
            small = dict(self._small)
            upload_id = self._upload_id
        if numbers != list(range(len(numbers))):
            missing = sorted(set(range(numbers[-1] + 1)) - set(numbers))
            raise StorageError(f"cannot complete {self.name}: part {missing[0]} was never written")
        if upload_id is None:  # nothing reached the S3 minimum: one plain object
            self.storage.put(self.name, b"".join(small[n] for n in numbers))
            return
        tail = [n for n in numbers if n in small]
        if tail and tail != numbers[-len(tail):]:
            raise StorageError(f"cannot complete {self.name}: part {tail[0]} is smaller than the S3 minimum of "
                               f"5 MiB but is not the last part")
        if tail:  # the short parts at the end become one last part
            self._send(tail[0], b"".join(small[n] for n in tail))
            with self._lock:
                for n in tail[1:]:
                    self._sizes.pop(n, None)
                    self._small.pop(n, None)
        with self._lock:
            parts = [self._parts[n] for n in sorted(self._parts)]
            total = sum(self._sizes.values())
        client, bucket = self.storage.client, self.storage.bucket
        try:
            self._call("completing the upload", lambda: client.complete_multipart_upload(
                Bucket=bucket, Key=self.key, UploadId=upload_id, MultipartUpload={"Parts": parts}))
        except StorageError as exc:
            # A retried completion whose first attempt succeeded finds no upload any more:
            # the object is there with the right size, so the upload did complete.
            if error_code(exc.__cause__ or exc) == "NoSuchUpload" and self.storage.size(self.name) == total:
                return
            raise

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            self._small.clear()
            upload_id = self._upload_id
        if upload_id is None:
            return
        client, bucket = self.storage.client, self.storage.bucket
        try:
            self._call("aborting the upload", lambda: client.abort_multipart_upload(
                Bucket=bucket, Key=self.key, UploadId=upload_id))
        except StorageError as exc:
            if error_code(exc.__cause__ or exc) not in ("NoSuchUpload", "404"):
                raise


class _PartReader(io.RawIOBase):
    """A seekable file over a part for botocore, whose ``read`` returns views of the part, not copies.

    Why: botocore takes no ``memoryview`` body, and reads a file body three
    times per part (to checksum it, to sign it, to send it), 1 MiB at a time
    for the first two.  Copies of those pieces -- or a new ``bytes`` per
    part -- churn the heap: a 10 GiB backup to S3 peaked 5-7 MiB above a
    1 GiB one.  botocore only hashes and sends what it reads, so views are
    safe, and it seeks back to the start when it retries.
    """

    def __init__(self, data: bytes | memoryview) -> None:
        self._data = memoryview(data).cast("B")
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        start = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._data)}[whence]
        if start + offset < 0:
            raise ValueError(f"negative seek position {start + offset}")
        self._position = start + offset
        return self._position

    def read(self, size: int | None = -1) -> memoryview:  # type: ignore[override]
        end = len(self._data) if size is None or size < 0 else self._position + size
        piece = self._data[self._position:end]
        self._position += len(piece)
        return piece

    def readinto(self, buffer: Any) -> int:
        piece = self.read(len(buffer))
        memoryview(buffer).cast("B")[:len(piece)] = piece
        return len(piece)


def _suggest(written: int, number: int) -> str:
    """A segment size that would fit what was written so far in a tenth of the part limit."""
    per_part = max(written // max(number, 1), MIN_PART_SIZE)
    mib = -(-per_part * 10 // (1024 * 1024))
    return f"{mib}M"
