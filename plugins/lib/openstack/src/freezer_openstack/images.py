"""Glance images as Freezer streams, and back.

Glance, Nova and Cinder backups all end as an image streamed through the
pipeline (so they are compressed and encrypted like any other backup; the
image is never stored in clear).  The stream starts with a small header of
ours, so a restore has every fact it needs without asking the storage for
anything else, and those facts are encrypted with the data::

    b"FRZOSIMG1\\n" | 4-byte big-endian length | JSON header | image bytes

The header holds ``kind`` (glance, nova, cinder), ``time_stamp`` (when the
backup started, used to name what a restore creates), ``image`` (Glance's
own record of the image: formats, sizes, hash, custom properties) and
``resource`` (kind-specific facts, e.g. a server's flavor and networks).
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from keystoneauth1 import exceptions as ksa_exceptions

from freezer_core.contract import BackupStream, Options
from freezer_core.errors import IntegrityError
from freezer_openstack import Cloud, OpenStackError, check
from freezer_openstack.waits import wait_for

LOG = logging.getLogger("freezer.openstack.images")
MAGIC = b"FRZOSIMG1\n"
CHUNK = 1 << 20
READ_ONLY = {"id", "status", "created_at", "updated_at", "file", "schema", "self", "size", "virtual_size",
             "checksum", "os_hash_algo", "os_hash_value", "owner", "direct_url", "locations", "stores",
             "os_glance_failed_import", "os_glance_importing_to_stores", "protected"}
"""Keys of an image record a new image may not (or should not) be created with."""


def get_image(cloud: Cloud, image_id: str) -> dict[str, Any] | None:
    """Glance's record of an image, or None when there is none."""
    resp = cloud.conn.image.get(f"/images/{image_id}", raise_exc=False)
    if resp.status_code == 404:
        return None
    return dict(check(resp, f"reading image {image_id}").json())


def find_image(cloud: Cloud, image_id: str | None, name: str | None) -> dict[str, Any]:
    """The image given by id, or by a name that must match exactly one image."""
    if image_id:
        found = get_image(cloud, image_id)
        if found is None:
            raise OpenStackError(f"image {image_id} not found in Glance: check --glance-image-id")
        return found
    resp = check(cloud.conn.image.get("/images", params={"name": name}, raise_exc=False), f"listing images {name}")
    images = resp.json().get("images", [])
    if len(images) != 1:
        raise OpenStackError(f"{len(images)} images are named {name!r}: give --glance-image-id instead"
                             if images else f"no image is named {name!r}: check --glance-image-name")
    return dict(images[0])


def delete_image(cloud: Cloud, image_id: str, attempts: int = 5) -> None:
    """Delete the image; a 5xx answer (a busy Glance) or a dropped connection is retried a few times.

    Glance closes the connection of an upload it refused (a quota) without
    reading the rest, so the delete of that half-made image can meet the dead
    connection first.
    """
    for attempt in range(attempts):
        try:
            resp = cloud.conn.image.delete(f"/images/{image_id}", raise_exc=False)
        except ksa_exceptions.ConnectFailure as exc:
            if attempt == attempts - 1:
                raise
            LOG.warning("connection lost deleting image %s (%s); retrying", image_id, exc)
            time.sleep(1 + attempt)
            continue
        if resp.status_code < 500 or attempt == attempts - 1:
            break
        LOG.warning("Glance answered HTTP %s deleting image %s; retrying", resp.status_code, image_id)
        time.sleep(1 + attempt)
    check(resp, f"deleting image {image_id}", ok=(204, 404))


def wait_image_active(cloud: Cloud, image_id: str, what: str) -> dict[str, Any]:
    return wait_for(lambda: get_image(cloud, image_id), what, ("active",), cloud.timeout,
                    failed=("killed", "deleted", "deactivated"))


class ImageStream(BackupStream):
    """Our header, then the image's bytes as Glance serves them, checked against Glance's hash."""

    def __init__(self, cloud: Cloud, image: dict[str, Any], kind: str, time_stamp: int,
                 resource: dict[str, Any] | None = None, cleanup: Callable[[], None] | None = None) -> None:
        self.cloud, self.image, self.kind = cloud, image, kind
        self.header = {"kind": kind, "time_stamp": time_stamp, "image": image, "resource": resource or {}}
        self._cleanup = cleanup
        self._resp: Any = None
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        yield frame(self.header)
        for chunk in image_chunks(self.cloud, self.image, self._opened):
            self.size += len(chunk)
            yield chunk

    def _opened(self, resp: Any) -> None:
        self._resp = resp

    def state(self) -> bytes:
        return b""

    def close(self) -> None:
        if self._resp is not None:
            self._resp.close()
            self._resp = None
        cleanup, self._cleanup = self._cleanup, None
        if cleanup is not None:
            cleanup()


def frame(header: dict[str, Any]) -> bytes:
    """A header as the stream carries it: magic, length, JSON."""
    head = json.dumps(header, sort_keys=True).encode()
    return MAGIC + struct.pack(">I", len(head)) + head


def image_chunks(cloud: Cloud, image: dict[str, Any], opened: Callable[[Any], None] | None = None,
                 ) -> Iterator[bytes]:
    """The image's bytes as Glance serves them, checked against Glance's size and hash at the end."""
    image_id = image["id"]
    resp = check(cloud.conn.image.get(f"/images/{image_id}/file", stream=True, raise_exc=False),
                 f"downloading image {image_id}")
    if opened is not None:
        opened(resp)
    algo = image.get("os_hash_algo") or ""
    digest = hashlib.new(algo) if algo in hashlib.algorithms_available else None
    size = 0
    try:
        for chunk in resp.iter_content(CHUNK):
            if chunk:
                size += len(chunk)
                if digest:
                    digest.update(chunk)
                yield chunk
    finally:
        resp.close()
    expected = image.get("os_hash_value")
    if digest and expected and digest.hexdigest() != expected:
        raise IntegrityError(f"image {image_id} downloaded from Glance does not match its {algo} hash")
    if image.get("size") is not None and size != image["size"]:
        raise IntegrityError(f"image {image_id}: Glance sent {size} bytes of {image['size']}")
    LOG.info("streamed image %s (%d bytes)", image_id, size)


class ChunkReader:
    """Exact-length reads over an iterator of chunks (a stream holding several framed images)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = b""

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; fewer only at the end of the stream."""
        while len(self._buf) < size:
            chunk = next(self._it, None)
            if chunk is None:
                break
            self._buf += chunk
        out, self._buf = self._buf[:size], self._buf[size:]
        return out

    def header(self) -> dict[str, Any] | None:
        """The next framed header, or None at the end of the stream."""
        head = self.read(len(MAGIC) + 4)
        if not head:
            return None
        if not head.startswith(MAGIC) or len(head) < len(MAGIC) + 4:
            raise IntegrityError("this backup is not an OpenStack image stream written by Freezer (or it is "
                                 "truncated)")
        (length,) = struct.unpack(">I", head[len(MAGIC):])
        body = self.read(length)
        if len(body) < length:
            raise IntegrityError("the backup stream ends inside a header: it is truncated")
        return dict(json.loads(body))

    def exactly(self, size: int) -> Iterator[bytes]:
        """The next ``size`` bytes, in chunks; IntegrityError if the stream ends first."""
        left = size
        while left:
            if not self._buf:
                chunk = next(self._it, None)
                if chunk is None:
                    raise IntegrityError(f"the backup stream ends {left} bytes early: it is truncated")
                self._buf = chunk
            out, self._buf = self._buf[:left], self._buf[left:]
            left -= len(out)
            yield out


RestoreOne = Callable[[Cloud, dict[str, Any], Iterator[bytes]], None]
"""Restores one framed image: the connection, the image's header, the image's bytes."""


def restore_images(options: Options, chunks: Iterable[bytes], kind: str, restore_one: RestoreOne,
                   dry_run: str = "restore it") -> None:
    """Restore a backup of one ``kind`` image, or of a project's (``<kind>-project``), through ``restore_one``.

    What the glance and nova restores share: a stream another engine wrote is
    refused before OpenStack is contacted, ``--dry-run`` only says what it
    would do (``dry_run``), and one connection serves every image of a
    project backup, each handed over with exactly its own bytes.
    """
    reader = ChunkReader(chunks)
    header = reader.header()
    found = (header or {}).get("kind")
    if header is None or found not in (kind, f"{kind}-project"):
        raise IntegrityError(f"this backup is not a {kind} backup written by Freezer: restore it with its engine")
    if options.get("dry_run"):
        LOG.info("dry run: would %s (the backup of %s)", dry_run, header["time_stamp"])
        return
    cloud = Cloud(options)
    try:
        if found == kind:
            restore_one(cloud, header, iter(lambda: reader.read(CHUNK), b""))
            return
        while (part := reader.header()) is not None:
            restore_one(cloud, part, reader.exactly(int(part["length"])))
    finally:
        cloud.close()


def read_header(chunks: Iterable[bytes]) -> tuple[dict[str, Any], Iterator[bytes]]:
    """The stream's header and an iterator over the image bytes that follow it."""
    it = iter(chunks)
    buf = b""
    for chunk in it:
        buf += chunk
        if len(buf) >= len(MAGIC) + 4:
            break
    if not buf.startswith(MAGIC):
        raise IntegrityError("this backup is not an OpenStack image stream written by Freezer: restore it with "
                             "the engine that made it")
    (length,) = struct.unpack(">I", buf[len(MAGIC):len(MAGIC) + 4])
    start = len(MAGIC) + 4
    while len(buf) < start + length:
        more = next(it, None)
        if more is None:
            break
        buf += more
    if len(buf) < start + length:
        raise IntegrityError("the backup stream ends inside its header: it is truncated")
    header = json.loads(buf[start:start + length])
    return header, _prepend(buf[start + length:], it)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def upload_image(cloud: Cloud, header: dict[str, Any], data: Iterator[bytes], name: str,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Create image ``name`` like the one recorded in ``header`` and stream ``data`` into it.

    The new image's hash is compared with the original's: what Glance holds
    now is byte for byte what it held at backup time.  A half-made image is
    deleted before the error is raised.
    """
    source = header["image"]
    body = {k: v for k, v in source.items() if k not in READ_ONLY and v is not None}
    body.update(name=name, **(extra or {}))
    body.pop("tags", None)
    created = check(cloud.conn.image.post("/images", json=body, raise_exc=False), f"creating image {name}").json()
    image_id = created["id"]
    try:
        check(cloud.conn.image.put(f"/images/{image_id}/file", data=data, raise_exc=False,
                                   headers={"Content-Type": "application/octet-stream"}),
              f"uploading image {name}")
        image = wait_image_active(cloud, image_id, f"image {name} ({image_id})")
        want = source.get("os_hash_value")
        if want and source.get("os_hash_algo") == image.get("os_hash_algo") and image.get("os_hash_value") != want:
            raise IntegrityError(f"restored image {image_id} differs from the backed-up image (hash mismatch)")
    except BaseException:
        try:
            delete_image(cloud, image_id)
        except Exception as exc:  # noqa: BLE001 - the first error is the one to report
            LOG.error("could not remove the partial image %s: %s", image_id, exc)
        raise
    return image
