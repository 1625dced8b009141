"""The backup action.

Order matters for safety: the data is uploaded first, then the engine state,
then the ``metadata`` object.  A backup exists only once its metadata is
stored, so an interrupted run leaves nothing a restore or the next level
computation would ever pick up.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable
from typing import Any

from freezer_core.actions.common import (
    FORMAT_VERSION,
    catalog_for,
    counting,
    open_engine,
    open_mode,
    open_storage,
    passphrase_of,
    read_state,
    result_record,
    seal,
    unseal,
)
from freezer_core.catalog import BackupRef, LevelPolicy
from freezer_core.contract import Engine, Storage
from freezer_core.errors import ValidationError
from freezer_core.models import Action
from freezer_core.pipeline import apply, read_ahead
from freezer_core.pipeline.compression import compressor
from freezer_core.pipeline.crypto import encryptor, freezer_salt
from freezer_core.pipeline.transfer import Segment, upload
from freezer_core.plugins import call_hook

LOG = logging.getLogger("freezer.backup")


def _previous_state(storage: Storage, engine: Engine, lineage: list[BackupRef],
                    passphrase: bytes | None) -> tuple[Any, bytes]:
    """What ``engine.backup`` gets as ``previous_state``, and the salt of the action's key.

    That is the parent's state, or every state of the chain for an engine with ``chain_state``.
    The salt gives one scrypt run per action: the new data and state reuse the key of the
    parent's state when it has one (every object keeps its own nonce prefix), else share a
    fresh one.
    """
    refs = lineage if engine.chain_state else lineage[-1:]
    sealed = [read_state(storage, ref) for ref in refs]
    salt = (freezer_salt(sealed[-1]) if sealed else None) or os.urandom(16)
    states = [unseal(raw, passphrase, f"engine state of level {ref.level}")
              for ref, raw in zip(refs, sealed, strict=True)]
    if not states:
        return None, salt
    return (states if engine.chain_state else states[0]), salt


def _upload_data(action: Action, storage: Storage, ref: BackupRef, chunks: Iterable[bytes], *,
                 level: int, passphrase: bytes | None, salt: bytes | None) -> list[Segment]:
    """Compress, encrypt and upload the engine's stream as the backup's data object.

    Its own function so that the compressor and encryptor (zstd contexts, buffers) are
    gone when it returns, before the engine state is sealed and stored beside them.
    """
    transforms = [compressor(action.compression, favour_size=level > 0)]
    if passphrase is not None:
        transforms.append(encryptor(passphrase, action.encrypt_format, salt=salt))
    return upload(storage, ref.data_name, apply(chunks, *transforms), segment_size=action.max_segment_size)


def run(action: Action, progress: Any = None) -> dict[str, Any]:
    storage = open_storage(action)
    engine = open_engine(action)
    mode = open_mode(action)
    policy = LevelPolicy.from_options(action)
    if policy.incremental and not engine.supports_incremental:
        raise ValidationError(f"--engine {engine.name} does not make incremental backups: "
                              f"remove --incremental (or use --no-incremental true)")
    passphrase = passphrase_of(action)
    catalog = catalog_for(action, storage)
    try:
        with mode.prepare() as source:
            now = int(time.time())
            level, lineage = catalog.plan_backup_lineage(policy, now)
            ref = catalog.new_ref(level, lineage[-1] if lineage else None, now)
            previous_state, salt = _previous_state(storage, engine, lineage, passphrase)
            record = result_record(
                action, curr_backup_level=level, time_stamp=ref.ts,
                fs_real_path=source.extra.get("fs_real_path", ""),
                vol_snap_path=source.extra.get("vol_snap_path", ""),
            )
            if action.dry_run:
                LOG.info("dry run: would write level %d to %s", level, ref.data_dir)
                return record | {"dry_run": True}
            tally = [0]
            stream = engine.backup(source, previous_state)
            try:
                segments = _upload_data(action, storage, ref, counting(read_ahead(stream), progress, None, tally),
                                        level=level, passphrase=passphrase, salt=salt)
                state = stream.state()
            finally:
                stream.close()
            storage.put(ref.engine_metadata_name, seal(state, passphrase, salt))
            stored = sum(s.size for s in segments)
            metadata = {
                "engine_name": engine.name,
                "compression": action.compression,
                "encryption": passphrase is not None,
                **engine.metadata(),
                "freezer_format": FORMAT_VERSION,
                "encryption_format": action.encrypt_format if passphrase is not None else None,
                "level": level,
                "time_stamp": ref.ts,
                "level0_time_stamp": ref.level0_ts,
                "size": tally[0],
                "stored_size": stored,
                "segments": [s.to_dict() for s in segments],
            }
            storage.put(ref.metadata_name, json.dumps(metadata, sort_keys=True).encode())
    finally:
        storage.close()
    record.update(backup_size=tally[0], stored_size=stored, storage_path=ref.data_dir)
    LOG.info("backup %s level %d done: %d bytes read, %d stored", ref.data_dir, level, tally[0], stored)
    call_hook("backup_completed", action=action, record=record)
    return record
