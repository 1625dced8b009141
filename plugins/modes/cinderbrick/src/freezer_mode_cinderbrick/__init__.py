"""cinderbrick mode: a snapshot copy of a Cinder volume, attached here through os-brick, backed up as files.

Backup snapshots ``--cinderbrick-vol-id``, makes a temporary volume from the
snapshot and attaches it to this host (:mod:`freezer_mode_cinderbrick.attach`);
the ``osbrick`` engine, always preferred, mounts what os-brick returned and
backs up its files with tar.  The copy is detached, and the copy and the
snapshot deleted, however the backup ends; every wait is bounded by
``--timeout``.

Restore creates a new volume ``<name>~<restore time>`` with the size and type
of the volume given by ``--cinderbrick-vol-id`` and attaches it; the engine
makes a file system on it and extracts the files.  A restore that fails
deletes the volume it created.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from freezer_openstack import Cloud, Temporaries
from freezer_openstack.volumes import (
    create_snapshot,
    create_volume,
    delete_snapshot,
    delete_volume,
    get_volume,
    wait_snapshot,
    wait_volume,
)

from freezer_core.contract import Mode, Options, Source
from freezer_core.errors import ValidationError
from freezer_mode_cinderbrick.attach import attached

__all__ = ["CinderbrickMode"]

LOG = logging.getLogger("freezer.mode.cinderbrick")


class CinderbrickMode(Mode):
    name = "cinderbrick"

    @classmethod
    def preferred_engine(cls, options: Options) -> str | None:
        return "osbrick"

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.cloud = Cloud(options)
        self.restored: list[str] = []

    def _volume(self) -> dict[str, object]:
        engine = self.options.get("engine_name")
        if engine not in (None, "osbrick"):
            raise ValidationError(f"--mode cinderbrick attaches the volume for the osbrick engine, not --engine "
                                  f"{engine}: drop --engine")
        volume_id = self.options.get("cinderbrick_vol_id")
        if not volume_id:
            raise ValidationError("--mode cinderbrick needs --cinderbrick-vol-id: say which volume")
        return get_volume(self.cloud, str(volume_id), None, "--cinderbrick-vol-id")

    @contextlib.contextmanager
    def prepare(self) -> Iterator[Source]:
        cloud = self.cloud
        try:
            volume = self._volume()
            if self.options.get("dry_run"):  # the backup action stops before the engine: attach nothing
                yield Source(None, resource_id=str(volume["id"]), extra={"volume": volume})
                return
            base = f"{cloud.prefix}cinderbrick_{volume['id']}_{int(time.time())}"
            with Temporaries() as temporaries:
                with temporaries.creating():
                    snapshot_id = create_snapshot(cloud, str(volume["id"]), f"{base}_snapshot")
                    temporaries.add(f"snapshot {snapshot_id}", lambda: delete_snapshot(cloud, snapshot_id))
                wait_snapshot(cloud, snapshot_id)
                with temporaries.creating():
                    copy_id = create_volume(cloud, f"{base}_volume", int(str(volume["size"])), snapshot_id=snapshot_id)
                    temporaries.add(f"volume {copy_id}", lambda: delete_volume(cloud, copy_id))
                wait_volume(cloud, copy_id, f"temporary volume {copy_id} (from snapshot {snapshot_id})")
                with attached(cloud, copy_id) as path:
                    yield Source(path, resource_id=str(volume["id"]),
                                 extra={"volume": volume, "vol_snap_path": str(path)})
        finally:
            cloud.close()

    @contextlib.contextmanager
    def restoring(self) -> Iterator[Path]:
        cloud = self.cloud
        try:
            volume = self._volume()
            name = f"{volume.get('name') or volume['id']}~{int(time.time())}"
            extra = {k: volume[k] for k in ("volume_type", "availability_zone") if volume.get(k)}
            if self.options.get("dry_run"):  # the engine only lists the files: nothing to create
                with tempfile.TemporaryDirectory(prefix="freezer-cinderbrick-") as scratch:
                    yield Path(scratch)
                return
            with Temporaries() as temporaries:
                with temporaries.creating():
                    volume_id = create_volume(cloud, name, int(str(volume["size"])), **extra)
                    temporaries.add(f"volume {volume_id}", lambda: delete_volume(cloud, volume_id))
                wait_volume(cloud, volume_id, f"restored volume {name} ({volume_id})")
                with attached(cloud, volume_id) as path:
                    yield path
                temporaries.forget(f"volume {volume_id}")
            self.restored.append(volume_id)
            LOG.info("restored volume %s as %s (%s)", volume["id"], name, volume_id)
        finally:
            cloud.close()
