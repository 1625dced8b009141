"""cinder mode: a Cinder volume copied through a snapshot, a temporary volume and a Glance image.

Backup snapshots the volume (``--cinder-vol-id``, or ``--cinder-vol-name``
naming exactly one volume), makes a temporary volume from the snapshot and has
Cinder upload it to a temporary image (``os-volume_upload_image``).  The
``cinder`` engine then streams that image through the pipeline, so the copy in
storage is compressed and encrypted.  All three temporaries are registered the
moment they exist and deleted when the backup ends, however it ends; every
wait is bounded by ``--timeout`` and names the resource and its last state.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from freezer_openstack import Cloud, Temporaries
from freezer_openstack.images import delete_image, wait_image_active
from freezer_openstack.volumes import (
    create_snapshot,
    create_volume,
    delete_snapshot,
    delete_volume,
    get_volume,
    upload_to_image,
    wait_snapshot,
    wait_volume,
)

from freezer_core.contract import Mode, Options, Source
from freezer_core.errors import ValidationError

__all__ = ["CinderMode"]

LOG = logging.getLogger("freezer.mode.cinder")


class CinderMode(Mode):
    name = "cinder"

    @classmethod
    def preferred_engine(cls, options: Options) -> str | None:
        return "cinder"

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.cloud = Cloud(options)

    def _check_engine(self) -> None:
        engine = self.options.get("engine_name")
        if engine not in (None, "cinder"):
            raise ValidationError(f"--mode cinder streams a Glance image of the volume, not --engine {engine}: "
                                  f"drop --engine")

    @contextlib.contextmanager
    def prepare(self) -> Iterator[Source]:
        self._check_engine()
        volume_id, volume_name = self.options.get("cinder_vol_id"), self.options.get("cinder_vol_name")
        if not volume_id and not volume_name:
            raise ValidationError("--mode cinder backups need --cinder-vol-id or --cinder-vol-name: say which volume")
        cloud = self.cloud
        try:
            volume = get_volume(cloud, volume_id, volume_name,
                                "--cinder-vol-id" if volume_id else "--cinder-vol-name")
            if self.options.get("dry_run"):  # the backup action stops before the engine: make nothing
                yield Source(None, resource_id=volume["id"], extra={"cloud": cloud, "volume": volume})
                return
            base = f"{cloud.prefix}cinder_{volume['id']}_{int(time.time())}"
            with Temporaries() as temporaries:
                with temporaries.creating():
                    snapshot_id = create_snapshot(cloud, volume["id"], f"{base}_snapshot")
                    temporaries.add(f"snapshot {snapshot_id}", lambda: delete_snapshot(cloud, snapshot_id))
                wait_snapshot(cloud, snapshot_id)
                with temporaries.creating():
                    copy_id = create_volume(cloud, f"{base}_volume", int(volume["size"]), snapshot_id=snapshot_id)
                    temporaries.add(f"volume {copy_id}", lambda: delete_volume(cloud, copy_id))
                wait_volume(cloud, copy_id, f"temporary volume {copy_id} (from snapshot {snapshot_id})")
                with temporaries.creating():
                    image_id = upload_to_image(cloud, copy_id, f"{base}_image")
                    temporaries.add(f"image {image_id}", lambda: delete_image(cloud, image_id))
                image = wait_image_active(cloud, image_id, f"image {image_id} (upload of volume {copy_id})")
                LOG.info("volume %s copied to image %s (%s bytes)", volume["id"], image_id, image.get("size"))
                yield Source(None, resource_id=volume["id"], extra={"cloud": cloud, "volume": volume, "image": image})
        finally:
            cloud.close()

    @contextlib.contextmanager
    def restoring(self) -> Iterator[Path]:
        self._check_engine()
        with tempfile.TemporaryDirectory(prefix="freezer-cinder-") as scratch:
            yield Path(scratch)
