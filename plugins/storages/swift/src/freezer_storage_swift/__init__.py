"""Swift storage: backups as objects in an OpenStack Swift container.

The layout is upstream Freezer's, so either agent restores the other's
backups: a backup's payload is a 0-byte ``.../<level>_<ts>/data`` object whose
``X-Object-Manifest`` header makes Swift serve the concatenation of its
segments ``.../<level>_<ts>/segments/%08d`` (a Dynamic Large Object).  The
manifest is written last, so an interrupted backup leaves segments that no
restore picks up, and an aborted one deletes them.  ``--swift-slo`` writes a
Static Large Object manifest instead: Swift then checks every segment's size
and ETag when the manifest is written, at the cost of upstream being able to
read it only as plain Swift (it still can: SLO is served like any object).

``--container`` is ``container`` or ``container/prefix``; the container is
created on first write.  Credentials: see :mod:`freezer_storage_swift.auth`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from swiftclient.client import ClientException, Connection

from freezer_core.contract import ObjectInfo, Options, Storage, StorageProperties, Upload
from freezer_core.errors import StorageError, ValidationError
from freezer_core.options import parse_bool
from freezer_storage_swift.auth import Credentials, load_credentials
from freezer_storage_swift.errors import is_transient, translate

__all__ = ["SwiftStorage"]

DEFAULT_CONTAINER = "freezer_backups"
SEGMENTS = "segments"
CONNECTIONS = 4
LISTING_PAGE = 10000
"""Swift's default (and usual maximum) container listing limit."""
SLO_MAX_SEGMENTS = 1000
"""Swift's default ``max_manifest_segments``: the most segments one SLO manifest may list."""
_T = TypeVar("_T")
_Names = list[tuple[str, str]]
"""(container, object) pairs; an alias because ``SwiftStorage.list`` shadows the builtin in the class."""

# swiftclient logs every failed request at INFO with the first characters of the token; Freezer reports
# each failure itself, in one line and without secrets, so its request log stays off unless asked for.
if logging.getLogger("swiftclient").level == logging.NOTSET:
    logging.getLogger("swiftclient").setLevel(logging.WARNING)


def _clean(name: str) -> str:
    parts = [p for p in name.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise StorageError(f"invalid object name {name!r}")
    return "/".join(parts)


class SwiftStorage(Storage):
    name = "swift"

    def __init__(self, container: str, options: Options) -> None:
        super().__init__(container or DEFAULT_CONTAINER, options)
        bucket, _, prefix = (container or DEFAULT_CONTAINER).strip("/").partition("/")
        if not bucket or len(bucket) > 256:
            raise ValidationError(f"--container {container!r} is not a Swift container: use NAME or NAME/PREFIX")
        self.bucket = bucket
        self.prefix = f"{_clean(prefix)}/" if _clean(prefix) else ""
        self.slo = parse_bool(options.get("swift_slo") or False, "--swift-slo")
        self.creds: Credentials = load_credentials(options)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[Connection] = []
        self._container_ready = False
        self._bulk_limit: int | None = None

    # ------------------------------------------------------------ plumbing

    def _conn(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.creds.connect()
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _call(self, what: str, fn: Callable[[Connection], _T]) -> _T:
        """Run ``fn`` on this thread's connection; every failure becomes a one-line Freezer error."""
        conn = self._conn()
        try:
            result = fn(conn)
        except Exception as exc:
            raise translate(exc, what, self.creds, self.describe(), authenticated=bool(conn.token)) from exc
        self.creds.remember(conn)
        return result

    def _obj(self, name: str) -> str:
        """The Swift object name of ``name``; the root (``""``) is the container prefix without its slash."""
        clean = _clean(name)
        return self.prefix + clean if clean else self.prefix.rstrip("/")

    def _rel(self, obj: str) -> str:
        return obj[len(self.prefix):]

    def _ensure_container(self) -> None:
        """Create the container once per run (PUT is idempotent: an existing one is kept as is)."""
        if self._container_ready:
            return
        self._call(f"creating container {self.bucket}", lambda c: c.put_container(self.bucket))
        self._container_ready = True

    def _listing(self, prefix: str, delimiter: str | None = None, container: str | None = None) -> list[dict[str, Any]]:
        """Every entry under ``prefix``, page by page.

        swiftclient's ``full_listing`` always asks once more for an empty
        page; a page shorter than the limit is the last one, which saves a
        round trip on every listing.
        """
        where = container or self.bucket

        def run(c: Connection) -> list[dict[str, Any]]:
            entries: list[dict[str, Any]] = []
            marker = ""
            while True:
                try:
                    page = c.get_container(where, prefix=prefix, delimiter=delimiter, marker=marker,
                                           limit=LISTING_PAGE)[1]
                except ClientException as exc:
                    if exc.http_status == 404:
                        return entries
                    raise
                entries += page
                if len(page) < LISTING_PAGE:
                    return entries
                marker = page[-1].get("name") or page[-1].get("subdir") or ""
        return self._call(f"listing {where}/{prefix}", run)

    # ------------------------------------------------------------ writing

    def put(self, name: str, data: bytes) -> None:
        self._ensure_container()
        obj = self._obj(name)
        self._call(f"writing {obj}", lambda c: c.put_object(self.bucket, obj, data, content_length=len(data),
                                                          content_type="application/octet-stream"))

    def open_upload(self, name: str) -> Upload:
        self._ensure_container()
        return _SwiftUpload(self, _clean(name))

    # ------------------------------------------------------------ reading

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        obj = self._obj(name)
        if length == 0:
            if self.size(name) is None:
                raise translate(ClientException("not found", http_status=404), f"reading {obj}", self.creds,
                                self.describe(), authenticated=True)
            return b""
        headers = {}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            headers["Range"] = f"bytes={offset}-{end}"

        def run(c: Connection) -> bytes:
            try:
                return bytes(c.get_object(self.bucket, obj, headers=headers)[1])
            except ClientException as exc:
                if exc.http_status == 416:  # a range starting at or past the end
                    return b""
                raise
        return self._call(f"reading {obj}", run)

    def _head(self, obj: str) -> dict[str, str] | None:
        def run(c: Connection) -> dict[str, str] | None:
            try:
                return dict(c.head_object(self.bucket, obj))
            except ClientException as exc:
                if exc.http_status == 404:
                    return None
                raise
        return self._call(f"checking {obj}", run) if obj else None

    def size(self, name: str) -> int | None:
        headers = self._head(self._obj(name))
        return None if headers is None else int(headers.get("content-length", 0))

    def list(self, prefix: str) -> list[str]:
        base = self._obj(prefix)
        start = f"{base}/" if base else ""
        children = set()
        for entry in self._listing(start, delimiter="/"):
            child = (entry.get("subdir") or entry.get("name") or "")[len(start):].strip("/")
            if child:
                children.add(child)
        return sorted(children)

    def walk(self, prefix: str = "") -> Iterator[ObjectInfo]:
        base, exact = self._obj(prefix), bool(_clean(prefix))
        for entry in self._listing(base):
            obj = entry.get("name", "")
            if not base or obj.startswith(base + "/") or (exact and obj == base):
                # An SLO manifest lists with its segments' total; count the bytes once, as its segments.
                yield ObjectInfo(self._rel(obj), 0 if "slo_etag" in entry else int(entry.get("bytes", 0)))

    # ------------------------------------------------------------ removing

    def delete(self, name: str) -> None:
        """Remove ``name``, everything below ``name/`` and the segments of a large object at ``name``.

        The manifest goes first: a large object is never left pointing at
        segments that are already gone.
        """
        base, exact = self._obj(name), bool(_clean(name))
        doomed: _Names = []
        below: _Names = []
        for entry in self._listing(base):  # one listing finds the object itself and its subtree
            obj = entry.get("name", "")
            if exact and obj == base:
                # Only a large-object manifest lists as 0 bytes or with an SLO etag: HEAD just those.
                maybe_manifest = int(entry.get("bytes", 0)) == 0 or "slo_etag" in entry
                doomed += self._large_object_parts(base) if maybe_manifest else [(self.bucket, base)]
            elif not base or obj.startswith(base + "/"):
                below.append((self.bucket, obj))
        self._delete_many(list(dict.fromkeys(doomed + below)))

    def _large_object_parts(self, obj: str) -> _Names:
        """What deleting ``obj`` must remove: itself, plus its segments when it is a DLO manifest.

        An SLO manifest is deleted at once with its segments (Swift does it).
        """
        headers = self._head(obj) or {}
        if headers.get("x-static-large-object", "").lower() == "true":
            self._call(f"deleting {obj}", lambda c: _quiet_delete(c, self.bucket, obj, "multipart-manifest=delete"))
            return []
        manifest = headers.get("x-object-manifest")
        if not manifest:
            return [(self.bucket, obj)]
        seg_container, _, seg_prefix = unquote(manifest).partition("/")
        return [(self.bucket, obj)] + [(seg_container, e["name"])
                                      for e in self._listing(seg_prefix, container=seg_container)]

    def _delete_many(self, doomed: _Names) -> None:
        if not doomed:
            return
        limit = self._bulk_delete_limit() if len(doomed) > 1 else 0
        if limit:
            for start in range(0, len(doomed), limit):
                self._bulk_delete(doomed[start:start + limit])
            return
        if len(doomed) == 1:
            container, obj = doomed[0]
            self._call(f"deleting {obj}", lambda c: _quiet_delete(c, container, obj))
            return
        with ThreadPoolExecutor(CONNECTIONS, thread_name_prefix="freezer-swift-delete") as pool:
            list(pool.map(lambda item: self._call(f"deleting {item[1]}", lambda c: _quiet_delete(c, *item)), doomed))

    def _bulk_delete_limit(self) -> int:
        """How many objects one bulk-delete request may remove (0: the cluster has no bulk delete)."""
        if self._bulk_limit is None:
            try:
                info = self._call("reading the cluster's capabilities", lambda c: c.get_capabilities())
                self._bulk_limit = int(info.get("bulk_delete", {}).get("max_deletes_per_request", 0))
            except StorageError:
                self._bulk_limit = 0
        return self._bulk_limit

    def _bulk_delete(self, doomed: _Names) -> None:
        body = "\n".join(quote(f"/{container}/{obj}") for container, obj in doomed).encode()
        _, raw = self._call(f"deleting {len(doomed)} objects", lambda c: c.post_account(
            headers={"Content-Type": "text/plain", "Accept": "application/json"},
            query_string="bulk-delete", data=body))
        result = json.loads(raw or b"{}")
        errors = [e for e in result.get("Errors") or [] if not str(e[1]).startswith("404")]
        if errors or not str(result.get("Response Status", "200")).startswith(("200", "201")):
            detail = "; ".join(f"{n}: {s}" for n, s in errors[:3]) or result.get("Response Body", "")
            exc = ClientException(f"bulk delete failed ({result.get('Response Status')}): {detail}",
                                  http_status=int(str(result.get("Response Status", "500")).split()[0]))
            raise translate(exc, f"deleting {len(doomed)} objects", self.creds, self.describe(), authenticated=True)

    # ------------------------------------------------------------ behaviour

    def properties(self) -> StorageProperties:
        # A DLO has no segment limit; an SLO manifest lists at most Swift's max_manifest_segments.
        return StorageProperties(connections=CONNECTIONS, max_parts=SLO_MAX_SEGMENTS if self.slo else None)

    def is_permanent(self, exc: BaseException) -> bool:
        return not is_transient(exc)

    def describe(self) -> str:
        return f"swift:{self.container}"

    def close(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        self.creds.close()
        self._local = threading.local()


def _quiet_delete(conn: Connection, container: str, obj: str, query_string: str | None = None) -> None:
    """Delete one object; one that is already gone is not an error (a retry, or a concurrent removal)."""
    try:
        conn.delete_object(container, obj, query_string=query_string)
    except ClientException as exc:
        if exc.http_status != 404:
            raise


class _SwiftUpload(Upload):
    """Parts become segment objects; ``complete`` writes the manifest that makes them one object.

    Segments of ``dir/data`` go to ``dir/segments/%08d`` as upstream writes
    them; any other name ``dir/NAME`` uses ``dir/NAME.segments/%08d`` so two
    large objects in one directory never share a DLO prefix.
    """

    def __init__(self, storage: SwiftStorage, name: str) -> None:
        self.storage = storage
        self.obj = storage._obj(name)
        parent, _, base = self.obj.rpartition("/")
        folder = SEGMENTS if base == "data" else f"{base}.{SEGMENTS}"
        self.segments = f"{parent}/{folder}/" if parent else f"{folder}/"
        self.written: dict[int, tuple[str, int]] = {}
        self.lock = threading.Lock()

    def _segment(self, number: int) -> str:
        return f"{self.segments}{number:08d}"

    def write_part(self, number: int, offset: int, data: bytes) -> None:
        seg = self._segment(number)
        etag = self.storage._call(f"writing {seg}", lambda c: c.put_object(
            self.storage.bucket, seg, data, content_length=len(data), content_type="application/octet-stream"))
        with self.lock:
            self.written[number] = (str(etag or ""), len(data))

    def complete(self) -> None:
        st = self.storage
        numbers = sorted(self.written)
        if numbers != list(range(len(numbers))):
            raise StorageError(f"cannot complete {self.obj}: parts {numbers} are not contiguous from 0")
        # Segments left by an earlier, interrupted attempt under this name would join a DLO: remove them.
        ours = {self._segment(n) for n in numbers}
        stale = [(st.bucket, e["name"]) for e in st._listing(self.segments) if e.get("name") not in ours]
        st._delete_many(stale)
        if st.slo and numbers:
            manifest = [{"path": f"/{st.bucket}/{self._segment(n)}", "etag": self.written[n][0] or None,
                         "size_bytes": self.written[n][1]} for n in numbers]
            st._call(f"writing the manifest {self.obj}", lambda c: c.put_object(
                st.bucket, self.obj, json.dumps(manifest), query_string="multipart-manifest=put"))
            return
        headers = {"X-Object-Manifest": quote(f"{st.bucket}/{self.segments}")} if numbers else {}
        st._call(f"writing the manifest {self.obj}", lambda c: c.put_object(
            st.bucket, self.obj, b"", content_length=0, headers=headers))

    def abort(self) -> None:
        with self.lock:
            doomed = [(self.storage.bucket, self._segment(n)) for n in sorted(self.written)]
            self.written.clear()
        self.storage._delete_many(doomed)
