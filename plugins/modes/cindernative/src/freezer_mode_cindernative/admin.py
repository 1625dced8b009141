"""Removing cindernative backups: the Cinder backup goes with Freezer's record of it.

The admin action offers each record it removes to :func:`forget`, newest
first.  The Cinder backup the record names is deleted, and polled until Cinder
no longer lists it (bounded by ``--timeout``), before the record goes.  It is
kept (:class:`~freezer_core.errors.BackupInUse`: the record stays, admin goes
on) when

* Freezer did not make it: no ``created_by=freezer`` in its metadata (unless
  ``--nocindernative-freezer-only``);
* it is, or follows, one of the ``--fullbackup-rotation`` newest full backups
  of the volume (default 1; 0 turns this floor off): those fulls are kept with
  their increments whatever the date;
* an increment Cinder still holds depends on it.  Newest-first order means the
  increments of a removed chain are already gone when their full comes up, so
  this only keeps what a kept increment needs.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from freezer_openstack import Cloud
from freezer_openstack.waits import wait_for

from freezer_core.contract import Options, StoredBackup
from freezer_core.errors import BackupInUse, IntegrityError
from freezer_mode_cindernative import api
from freezer_mode_cindernative.engine import KIND

LOG = logging.getLogger("freezer.engine.cindernative")
BUSY = ("creating", "restoring", "deleting", "backing-up")


def made_by_freezer(backup: dict[str, Any]) -> bool:
    return (backup.get("metadata") or {}).get("created_by") == "freezer"


def _when(backup: dict[str, Any]) -> str:
    """When the backup's data was taken: Cinder chains an increment to the newest backup by this."""
    return str(backup.get("data_timestamp") or backup.get("created_at") or "")


def read_record(stored: StoredBackup) -> dict[str, Any]:
    try:
        record = json.loads(b"".join(stored.read()))
    except ValueError:
        record = None
    if not isinstance(record, dict) or record.get("kind") != KIND or not record.get("backup_id"):
        raise IntegrityError("this backup is not a cindernative record written by Freezer: remove it with the "
                             "engine that made it")
    return record


def forget(options: Options, stored: StoredBackup) -> None:
    record = read_record(stored)
    cloud = Cloud(options)
    try:
        _forget(cloud, options, record)
    finally:
        cloud.close()


def _forget(cloud: Cloud, options: Options, record: dict[str, Any]) -> None:
    backup_id = str(record["backup_id"])
    what = f"cinder backup {backup_id}"
    backup = api.get_backup(cloud, backup_id)
    if backup is None:
        LOG.info("%s is already gone from Cinder", what)
        return
    freezer_only = options.get("cindernative_freezer_only") is not False
    if freezer_only and not made_by_freezer(backup):
        raise BackupInUse(f"{what} was not made by Freezer (no created_by=freezer in its metadata): left in "
                          f"Cinder; delete it with Cinder or use --nocindernative-freezer-only")
    _check_rotation(cloud, options, backup, freezer_only)
    if backup.get("status") in BUSY:
        backup = wait_for(lambda: api.get_backup(cloud, backup_id) or {"status": "deleted"}, what,
                          ("available", "error", "deleted"), cloud.timeout)
        if backup.get("status") == "deleted":
            return
    if backup.get("has_dependent_backups"):
        raise BackupInUse(f"{what} has incremental backups that are kept: it stays with them")
    LOG.info("deleting %s (%s of volume %s)", what, "incremental" if backup.get("is_incremental") else "full",
             backup.get("volume_id"))
    api.delete_backup(cloud, backup_id)
    wait_for(lambda: api.get_backup(cloud, backup_id) or {"status": "deleted"}, what, ("deleted",), cloud.timeout,
             failed=("error_deleting",))


def _check_rotation(cloud: Cloud, options: Options, backup: dict[str, Any], freezer_only: bool) -> None:
    """Refuse a backup that belongs to one of the N newest full backups' chains (``--fullbackup-rotation``)."""
    keep = int(options.get("fullbackup_rotation") or 0)
    if keep <= 0:
        return
    mine = [b for b in api.volume_backups(cloud, str(backup["volume_id"]))
            if (made_by_freezer(b) or not freezer_only) and b.get("status") == "available"]
    fulls = sorted((b for b in mine if not b.get("is_incremental")), key=_when, reverse=True)[:keep]
    if fulls and _when(backup) >= _when(fulls[-1]):
        raise BackupInUse(f"cinder backup {backup['id']} belongs to the {keep} newest full backup(s) of volume "
                          f"{backup['volume_id']} and their increments, which are kept "
                          f"(--fullbackup-rotation {keep}; 0 turns this off)")
