"""glance engine: a Glance image streamed through Freezer's pipeline, restored as a new image.

Backup downloads the image (found by ``--glance-image-id`` or
``--glance-image-name``) and hands its bytes, behind a header recording
Glance's record of it, to the pipeline: the copy in storage is compressed and
encrypted like any other backup.  Restore creates ``<name>~<timestamp>``
with the same formats and properties, uploads the bytes and checks Glance's
hash of the result against the original's.  Images have no increments.

With ``--project-id`` (and no image named) one backup holds every active
image the project owns, one after the other, each framed by its own header
(``kind`` ``glance-project``); its restore creates every image again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from freezer_openstack import Cloud
from freezer_openstack.images import ImageStream, find_image, frame, image_chunks, restore_images, upload_image

from freezer_core.contract import BackupStream, Engine, Options, Source

__all__ = ["GlanceEngine"]

LOG = logging.getLogger("freezer.engine.glance")


class GlanceEngine(Engine):
    name = "glance"
    supports_incremental = False

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.restored: list[str] = []

    def backup(self, source: Source, previous_state: bytes | None) -> BackupStream:
        cloud: Cloud = source.extra.get("cloud") or Cloud(self.options)
        if "project_images" in source.extra:
            return ProjectStream(cloud, source.resource_id, list(source.extra["project_images"]), int(time.time()))
        image = source.extra.get("image") or find_image(cloud, source.resource_id, None)
        LOG.info("backing up image %s (%s, %s bytes)", image["id"], image.get("name"), image.get("size"))
        return ImageStream(cloud, image, "glance", int(time.time()))

    def restore(self, chunks: Iterable[bytes], target: Path, level: int) -> None:
        restore_images(self.options, chunks, "glance", self._restore_one, dry_run="create the image(s)")

    def _restore_one(self, cloud: Cloud, header: dict[str, Any], data: Iterator[bytes]) -> None:
        source = header["image"]
        name = f"{source.get('name') or source['id']}~{header['time_stamp']}"
        image = upload_image(cloud, header, data, name)
        self.restored.append(image["id"])
        LOG.info("restored image %s as %s (%s)", source["id"], name, image["id"])


class ProjectStream(BackupStream):
    """Every image of a project, one framed image after another."""

    def __init__(self, cloud: Cloud, project_id: str, images: list[dict[str, Any]], now: int) -> None:
        self.cloud, self.project_id, self.images, self.now = cloud, project_id, images, now

    def __iter__(self) -> Iterator[bytes]:
        yield frame({"kind": "glance-project", "time_stamp": self.now, "image": {},
                     "resource": {"project_id": self.project_id, "images": [i["id"] for i in self.images]}})
        for image in self.images:
            yield frame({"kind": "glance", "time_stamp": self.now, "image": image, "resource": {},
                         "length": int(image["size"])})
            yield from image_chunks(self.cloud, image)

    def state(self) -> bytes:
        return b""
