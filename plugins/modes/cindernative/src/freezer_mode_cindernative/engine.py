"""cindernative engine: asks cinder-backup for a backup and streams only a record of it.

Backup creates a Cinder backup of the volume (``force``: in-use volumes
too), incremental when an available full backup of it exists unless
``--no-incremental true`` is given, marked ``created_by=freezer`` in its
metadata, and polls it until ``available`` or ``error`` within
``--timeout``.  A backup that did not complete (error, timeout, Ctrl-C) is
deleted, so Cinder keeps nothing Freezer's catalog does not know.  The stream
Freezer stores is the JSON record of the finished backup.

Restore reads that record and restores the Cinder backup into a new volume
``<volume name>~<timestamp>``; a volume whose restore failed is deleted.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from freezer_openstack import Cloud, Temporaries

from freezer_core.contract import BackupStream, Engine, Options, Source, StoredBackup
from freezer_core.errors import IntegrityError, ValidationError
from freezer_mode_cindernative import api

__all__ = ["CindernativeEngine"]

LOG = logging.getLogger("freezer.engine.cindernative")
KIND = "freezer-cindernative/1"


class _RecordStream(BackupStream):
    def __init__(self, make: Any) -> None:
        self._make = make

    def __iter__(self) -> Iterator[bytes]:
        yield json.dumps(self._make(), sort_keys=True).encode()

    def state(self) -> bytes:
        return b""


class CindernativeEngine(Engine):
    name = "cindernative"
    supports_incremental = False
    """Freezer's levels stay 0: Cinder itself chains its incremental backups."""

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.restored: list[str] = []

    def _container(self, volume: dict[str, Any]) -> str:
        template = str(self.options.get("cindernative_backup_container") or self.options.get("container")
                       or "freezer_backups")
        try:
            return template.format(project_id=volume.get("os-vol-tenant-attr:tenant_id", ""), volume_id=volume["id"],
                                   backup_name=self.options.get("backup_name") or "")
        except (KeyError, IndexError, ValueError):
            raise ValidationError(f"--cindernative-backup-container: {template!r} has an unknown placeholder; "
                                  f"use {{project_id}}, {{volume_id}} or {{backup_name}}") from None

    def backup(self, source: Source, previous_state: bytes | None) -> BackupStream:
        cloud: Cloud = source.extra.get("cloud") or Cloud(self.options)
        volume = source.extra.get("volume") or api.get_volume(cloud, source.resource_id)
        return _RecordStream(lambda: self._backup(cloud, volume))

    def _backup(self, cloud: Cloud, volume: dict[str, Any]) -> dict[str, Any]:
        container = self._container(volume)
        fulls = [b for b in api.volume_backups(cloud, volume["id"])
                 if b.get("status") == "available" and b.get("container") == container]
        incremental = bool(fulls) and self.options.get("no_incremental") is not True
        now = int(time.time())
        body = {"volume_id": volume["id"], "container": container, "force": True, "incremental": incremental,
                "name": f"{cloud.prefix}{volume.get('name') or volume['id']}_{now}",
                "description": "made by freezer-agent",
                "metadata": {"created_by": "freezer", "freezer_backup_name": str(self.options.get("backup_name"))}}
        if self.options.get("cindernative_backup_az"):
            body["availability_zone"] = self.options["cindernative_backup_az"]
        with Temporaries() as temporaries:
            with temporaries.creating():
                made = api.create_backup(cloud, body)
                what = f"cinder backup {made['id']}"
                temporaries.add(what, lambda: api.discard_backup(cloud, made["id"]))
            LOG.info("%s of volume %s started (%s, container %s)", what, volume["id"],
                     "incremental" if incremental else "full", container)
            done = api.wait_backup(cloud, made["id"])
            temporaries.forget(what)
        return {"kind": KIND, "backup_id": done["id"], "volume_id": volume["id"],
                "volume_name": volume.get("name") or "", "volume_size": volume.get("size"),
                "container": container, "is_incremental": bool(done.get("is_incremental", incremental)),
                "time_stamp": now, "created_at": done.get("created_at")}

    def forget(self, backup: StoredBackup) -> None:
        """Delete the Cinder backup a removed record names (see :mod:`freezer_mode_cindernative.admin`)."""
        from freezer_mode_cindernative import admin

        admin.forget(self.options, backup)

    def restore(self, chunks: Iterable[bytes], target: Path, level: int) -> None:
        try:
            record = json.loads(b"".join(chunks))
        except ValueError:
            record = None
        if not isinstance(record, dict) or record.get("kind") != KIND:
            raise IntegrityError("this backup is not a cindernative record written by Freezer: restore it with the "
                                 "engine that made it")
        name = f"{record.get('volume_name') or record['volume_id']}~{record['time_stamp']}"
        if self.options.get("dry_run"):
            LOG.info("dry run: would restore cinder backup %s into a new volume %s", record["backup_id"], name)
            return
        cloud = Cloud(self.options)
        try:
            if api.get_backup(cloud, record["backup_id"]) is None:
                raise IntegrityError(f"cinder backup {record['backup_id']} recorded by this backup no longer exists "
                                     f"in Cinder: pick another date with --restore-from-date")
            with Temporaries() as temporaries:
                with temporaries.creating():
                    volume_id = api.restore_backup(cloud, record["backup_id"], name)
                    what = f"volume {volume_id}"
                    temporaries.add(what, lambda: api.delete_volume(cloud, volume_id))
                api.wait_volume(cloud, volume_id, f"restored volume {name} ({volume_id})")
                temporaries.forget(what)
        finally:
            cloud.close()
        self.restored.append(volume_id)
        LOG.info("restored cinder backup %s as volume %s (%s)", record["backup_id"], name, volume_id)
