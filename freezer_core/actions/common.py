"""What the actions share: opening plugins, passwords, engine state, result records."""

from __future__ import annotations

import io
import json
import platform
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from freezer_core import __version__
from freezer_core.catalog import BackupRef, Catalog
from freezer_core.contract import Engine, Mode, Storage
from freezer_core.errors import IntegrityError, ObjectNotFound, ValidationError
from freezer_core.models import Action
from freezer_core.pipeline import apply
from freezer_core.pipeline.crypto import decryptor, detect_format, encryptor, read_pass_file
from freezer_core.plugins import load_class
from freezer_core.storage_wrappers import MultiStorage, RateLimitedStorage, RetryingStorage

FORMAT_VERSION = 1
"""Version of the extra keys Freezer adds to a backup's ``metadata`` object."""


def open_storage(action: Action) -> Storage:
    """The storage the action names, or all of its ``[storage:NAME]`` sections at once.

    Each storage is wrapped by the core: retries with backoff for transient
    errors, then the bandwidth limits.
    """
    sections = action.storages
    if not sections:
        return _open_one(action)
    opened: list[Storage] = []
    try:
        for section in sections:
            keys = {k: v for k, v in section.items() if k != "name"}
            if not keys.get("storage") or not keys.get("container"):
                raise ValidationError(f"[storage:{section.get('name', '?')}] needs both 'storage' and "
                                      f"'container' keys")
            opened.append(_open_one(action.replace(**keys)))
    except BaseException:
        for storage in opened:
            storage.close()
        raise
    return MultiStorage(opened)


def _open_one(action: Action) -> Storage:
    cls = load_class("storage", action.storage)
    storage: Storage = RetryingStorage(cls(action.container, action))
    if action.upload_limit > 0 or action.download_limit > 0:
        storage = RateLimitedStorage(storage, action.upload_limit, action.download_limit)
    return storage


def open_engine(action: Action) -> Engine:
    engine: Engine = load_class("engine", action.engine_name)(action)
    return engine


def open_mode(action: Action) -> Mode:
    mode: Mode = load_class("mode", action.mode)(action)
    return mode


def catalog_for(action: Action, storage: Storage) -> Catalog:
    return Catalog(storage, action.engine_name, action.hostname_backup_name())


def passphrase_of(action: Action) -> bytes | None:
    return read_pass_file(action.encrypt_pass_file) if action.encrypt_pass_file else None


def seal(data: bytes, passphrase: bytes | None, salt: bytes | None = None) -> bytes:
    """Encrypt a small object (engine state) when a password is given.

    Always with Freezer's authenticated format, even when the data uses the
    OpenSSL-compatible one: engine state lists every path backed up and must
    not be readable or alterable by whoever holds the storage.  ``salt``
    reuses the action's key (see :func:`~freezer_core.pipeline.crypto.freezer_salt`).
    """
    if passphrase is None:
        return data
    # Into a BytesIO, whose getvalue() hands over its buffer: joining the pieces would hold
    # them all and the joined copy at once, beside ``data`` (a large rsync state: 3 x 6 MB).
    sealed = io.BytesIO()
    for piece in apply([data], encryptor(passphrase, "freezer", salt=salt)):
        sealed.write(piece)
    return sealed.getvalue()


def unseal(data: bytes, passphrase: bytes | None, what: str) -> bytes:
    """Decrypt a small object when it is encrypted; pass plaintext through."""
    return b"".join(decrypting([data], passphrase, what))


def decrypting(chunks: Iterable[bytes], passphrase: bytes | None, what: str) -> Iterator[bytes]:
    """Decrypt a stream whose format is told by its first bytes (or pass it through).

    Backups written by upstream Freezer, by older Freezer versions and by this
    one are all recognised, so restore never needs to be told the format.
    """
    it = iter(chunks)
    head = b""
    for chunk in it:
        head += chunk
        if len(head) >= 16:
            break
    fmt = detect_format(head)
    if fmt is not None and passphrase is None:
        raise ValidationError(f"{what} is encrypted: give the password file with --encrypt-pass-file")
    stream = _chain(head, it)
    del head  # the stream owns the first chunk now: hold no second reference to it
    yield from stream if fmt is None else apply(stream, decryptor(passphrase or b""))


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    del first
    yield from rest


def read_state(storage: Storage, ref: BackupRef) -> bytes:
    """The engine state stored with a backup level, as stored (decrypt it with :func:`unseal`)."""
    try:
        return storage.get(ref.engine_metadata_name)
    except ObjectNotFound:
        raise IntegrityError(f"engine state of level {ref.level} ({ref.engine_metadata_name}) is "
                             f"missing: start a new chain with a level-0 backup (omit --incremental)") from None


def read_metadata(storage: Storage, ref: BackupRef) -> dict[str, Any]:
    try:
        meta = json.loads(storage.get(ref.metadata_name))
    except (ValueError, UnicodeDecodeError):
        raise IntegrityError(f"{ref.metadata_name} is corrupted (not JSON)") from None
    if not isinstance(meta, dict):
        raise IntegrityError(f"{ref.metadata_name} is corrupted (not a JSON object)")
    return meta


def counting(chunks: Iterable[bytes], progress: Callable[[int, int | None], None] | None,
             total: int | None, tally: list[int]) -> Iterator[bytes]:
    """Pass chunks through, adding their size to ``tally[0]`` and reporting progress."""
    for chunk in chunks:
        tally[0] += len(chunk)
        if progress is not None:
            progress(tally[0], total)
        yield chunk


RECORD_FIELDS = (
    "action", "always_level", "backup_media", "backup_name", "container", "container_segments",
    "dry_run", "hostname", "path_to_backup", "max_level", "log_file", "storage", "mode", "proxy",
    "compression", "ssh_key", "ssh_username", "ssh_host", "ssh_port", "consistency_checksum",
    "cindernative_vol_id", "cindernative_backup_id", "nova_inst_id", "cinder_vol_id",
    "cinderbrick_vol_id", "glance_image_id", "engine_name",
)


def result_record(action: Action, **computed: Any) -> dict[str, Any]:
    """The upstream ``--metadata-out`` record: copied options ('' when unset) plus computed facts."""
    record: dict[str, Any] = {}
    for key in RECORD_FIELDS:
        value = action.get(key) if key != "backup_name" else action.resolved_backup_name()
        if key == "backup_media":
            value = action.backup_media()
        record[key] = value if value else ""
    record.update(
        client_os=platform.system().lower(),
        client_version=__version__,
        time_stamp=int(time.time()),
        curr_backup_level="",
        fs_real_path="",
        vol_snap_path="",
    )
    record.update(computed)
    return record
