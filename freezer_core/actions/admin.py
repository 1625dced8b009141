"""The admin action: remove old backups, chain by chain.

A chain (a level 0 and its increments) is removed only when every backup in
it is older than the cutoff: nothing newer than the cutoff is ever deleted,
and no kept increment ever loses its parent.

Some engines keep part of a backup outside the storage (cindernative: the
backup inside cinder-backup).  Before a backup's catalog entry goes, its
engine's :meth:`~freezer_core.contract.Engine.forget` releases that part.
Backups are released newest first (the newest chain first, its highest level
first), so an increment always goes before what it depends on; an entry is
deleted only once its engine let go of it, so a failure leaves that backup,
and everything below it, listed and restorable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from freezer_core.actions.common import (
    catalog_for,
    decrypting,
    open_engine,
    open_storage,
    passphrase_of,
    read_metadata,
    result_record,
)
from freezer_core.catalog import BackupRef, Catalog, Chain, days_ago, format_date, parse_date
from freezer_core.contract import Engine, Storage, StoredBackup
from freezer_core.errors import BackupInUse, IntegrityError
from freezer_core.models import Action
from freezer_core.pipeline import apply
from freezer_core.pipeline.compression import COMPRESSIONS, decompressor
from freezer_core.pipeline.transfer import Segment, download

LOG = logging.getLogger("freezer.admin")


def cutoff_of(action: Action, now: int) -> int:
    if action.remove_older_than is not None and action.remove_older_than != "":
        return days_ago(float(action.remove_older_than), now)
    if action.remove_before_date:
        return parse_date(action.remove_before_date, "--remove-before-date")
    return parse_date(str(action.remove_from_date or ""), "--remove-from-date")


def run(action: Action, progress: Any = None) -> dict[str, Any]:
    storage = open_storage(action)
    try:
        engine = open_engine(action)
        catalog = catalog_for(action, storage)
        cutoff = cutoff_of(action, int(time.time()))
        removed: list[dict[str, Any]] = []
        kept: list[dict[str, Any]] = []
        for chain in reversed(catalog.removable(cutoff)):
            LOG.info("removing chain %s (%d backups, newest %s)", chain.level0_ts, len(chain.backups),
                     format_date(chain.newest_ts))
            if action.dry_run:
                removed.extend(_entry(b) for b in chain.backups)
                continue
            gone, blocked = _remove_chain(action, engine, catalog, chain)
            removed.extend(_entry(b) for b in gone)
            if blocked is not None:
                ref, reason = blocked
                kept.extend(_entry(b) | {"reason": reason} for b in chain.backups if b not in gone)
                LOG.warning("kept backup %s and the levels below it: %s", ref.data_dir, reason)
    finally:
        storage.close()
    return result_record(action, remove_cutoff=format_date(cutoff), removed_backups=removed, kept_backups=kept)


def _entry(ref: BackupRef) -> dict[str, Any]:
    return {"level": ref.level, "time_stamp": ref.ts}


def _remove_chain(action: Action, engine: Engine, catalog: Catalog,
                  chain: Chain) -> tuple[list[BackupRef], tuple[BackupRef, str] | None]:
    """Release and delete a chain's backups, highest level first; stop at the first one that must stay.

    Returns the backups removed and, when one was kept, that backup with the reason.  Any other
    error is raised once the levels already released are out of the catalog.
    """
    released: list[BackupRef] = []
    blocked: tuple[BackupRef, str] | None = None
    try:
        for ref in sorted(chain.backups, key=lambda b: (b.level, b.ts), reverse=True):
            try:
                engine.forget(_stored(action, catalog.storage, ref))
            except BackupInUse as exc:
                blocked = (ref, str(exc))
                break
            released.append(ref)
    finally:
        if blocked is None and len(released) == len(chain.backups):
            catalog.remove(chain)
        else:
            for ref in released:
                catalog.remove_backup(ref)
    return released, blocked


def _stored(action: Action, storage: Storage, ref: BackupRef) -> StoredBackup:
    return StoredBackup(level=ref.level, time_stamp=ref.ts, level0_time_stamp=ref.level0_ts,
                        metadata=lambda: read_metadata(storage, ref),
                        read=lambda: _payload(action, storage, ref))


def _payload(action: Action, storage: Storage, ref: BackupRef) -> Iterator[bytes]:
    """The backup's stream as its engine wrote it: fetched, decrypted, decompressed (as restore reads it)."""
    meta = read_metadata(storage, ref)
    compression = meta.get("compression") or "gzip"
    if compression not in COMPRESSIONS:
        raise IntegrityError(f"{ref.metadata_name} names an unknown compression {compression!r}")
    segments = [Segment.from_dict(s) for s in meta["segments"]] if "segments" in meta else None
    chunks = download(storage, ref.data_name, segments, segment_size=action.max_segment_size)
    plain = decrypting(chunks, passphrase_of(action), f"backup level {ref.level}")
    return apply(plain, decompressor(compression))
