"""cinder engine: the Glance image of a volume streamed through the pipeline, restored as a new volume.

Backup streams the image the ``cinder`` mode made, behind a header that
records the volume (name, size, type, zone, bootable flag, metadata).
Restore uploads the bytes to a temporary image (its hash checked against the
original's), creates the volume ``<name>~<timestamp>`` from it with the same
size, type and zone, waits until it is available and deletes the image; a
volume whose creation failed is deleted too.  Volumes have no increments here.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from freezer_openstack import Cloud, Temporaries
from freezer_openstack.images import ImageStream, delete_image, read_header, upload_image
from freezer_openstack.volumes import create_volume, delete_volume, wait_volume

from freezer_core.contract import BackupStream, Engine, Options, Source
from freezer_core.errors import IntegrityError, ValidationError

__all__ = ["CinderEngine"]

LOG = logging.getLogger("freezer.engine.cinder")
GIB = 1 << 30
KEPT = ("id", "name", "size", "volume_type", "availability_zone", "bootable", "metadata", "description")


class CinderEngine(Engine):
    name = "cinder"
    supports_incremental = False

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.restored: list[str] = []

    def backup(self, source: Source, previous_state: bytes | None) -> BackupStream:
        image = source.extra.get("image")
        if image is None:
            raise ValidationError("--engine cinder backs up what --mode cinder prepares: use --mode cinder")
        volume = source.extra["volume"]
        facts = {"volume": {k: volume.get(k) for k in KEPT}}
        return ImageStream(source.extra["cloud"], image, "cinder", int(time.time()), resource=facts)

    def restore(self, chunks: Iterable[bytes], target: Path, level: int) -> None:
        header, data = read_header(chunks)
        if header.get("kind") != "cinder":
            raise IntegrityError(f"this backup holds a {header.get('kind')} image, not a cinder volume: restore it "
                                 f"with --mode {header.get('kind')}")
        volume: dict[str, Any] = header["resource"]["volume"]
        name = f"{volume.get('name') or volume['id']}~{header['time_stamp']}"
        if self.options.get("dry_run"):
            LOG.info("dry run: would create volume %s", name)
            return
        cloud = Cloud(self.options)
        prefix = str(self.options.get("temp_resource_prefix") or "freezer_")
        try:
            with Temporaries() as temporaries:
                image = upload_image(cloud, header, data, f"{prefix}restore_{volume['id']}_{header['time_stamp']}")
                temporaries.add(f"image {image['id']}", lambda: delete_image(cloud, image["id"]))
                size = max(int(volume.get("size") or 1), math.ceil(int(image.get("size") or 0) / GIB))
                extra = {k: volume[k] for k in ("volume_type", "availability_zone") if volume.get(k)}
                with temporaries.creating():
                    volume_id = create_volume(cloud, name, size, imageRef=image["id"], **extra)
                    temporaries.add(f"volume {volume_id}", lambda: delete_volume(cloud, volume_id))
                wait_volume(cloud, volume_id, f"restored volume {name} ({volume_id})")
                temporaries.forget(f"volume {volume_id}")
        finally:
            cloud.close()
        self.restored.append(volume_id)
        LOG.info("restored volume %s as %s (%s)", volume["id"], name, volume_id)
