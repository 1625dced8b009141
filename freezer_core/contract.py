"""The plugin contract: the three small interfaces every plugin implements.

A plugin is one class registered under an entry point:

* ``freezer.storages`` -> a :class:`Storage` subclass (local, ssh, s3, swift, ...)
* ``freezer.engines``  -> an :class:`Engine` subclass (tar, rsync, nova, ...)
* ``freezer.modes``    -> a :class:`Mode` subclass (fs, mysql, nova, ...)

The division of labour is strict so that plugins stay small:

* a **storage** moves opaque bytes under names; it never sees plaintext,
  compression, levels or engines.  Retries, bandwidth limits and parallelism
  are core wrappers around it;
* an **engine** turns a prepared source into a byte stream (and back); it never
  sees storage or encryption;
* a **mode** makes a consistent source (lock, snapshot, dump) and always
  releases it, and knows where a restored resource goes.

``api_version`` lets the core refuse a plugin written for another contract.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from freezer_core.errors import TransientStorageError

CONTRACT_VERSION = 1

Options = Mapping[str, Any]
"""The action's options (upstream ``freezer_action`` dests) as a read-only mapping."""


# ---------------------------------------------------------------- storage


@dataclass(frozen=True)
class StorageProperties:
    """What the core needs to know to drive a storage well."""

    connections: int = 2
    """How many transfers may run at once."""
    max_object_size: int | None = None
    """Largest single object, or None when unbounded."""
    min_part_size: int = 1
    """Smallest part of a multi-part upload except the last (S3: 5 MiB)."""
    max_parts: int | None = None
    """Most parts one upload may have (S3: 10 000), or None when unbounded.

    With a limit, the core lets segments grow along an upload so that a large
    backup never runs out of parts (see ``freezer_core.pipeline.transfer``).
    """
    borrows_parts: bool = False
    """True when ``write_part`` is done with ``data`` once it returns: written or copied, no reference kept.

    The core then passes a read-only ``memoryview`` into a segment buffer that
    it fills again for a later part, instead of a new ``bytes`` per part.  Why:
    fresh memory for every segment is a page fault per 4 KiB of backup, which
    measured ~0.7 CPU-s per GiB on a 2-CPU VM (see ``docs/performance.md``).
    Leave it False when ``write_part`` queues ``data``, keeps it for later, or
    needs real ``bytes``.
    """


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    size: int


class Upload(abc.ABC):
    """A large object written in parts, visible under its name only once complete.

    Parts may be written concurrently and in any order; writing the same part
    twice (a retry) must be harmless.  ``offset`` is where the part starts in
    the final object, ``number`` its 0-based index.  ``data`` is ``bytes``, or
    a ``memoryview`` valid until ``write_part`` returns when the storage's
    properties say :attr:`~StorageProperties.borrows_parts`.
    """

    @abc.abstractmethod
    def write_part(self, number: int, offset: int, data: bytes) -> None: ...

    @abc.abstractmethod
    def complete(self) -> None:
        """Make the object visible under its name (atomically where possible)."""

    @abc.abstractmethod
    def abort(self) -> None:
        """Discard every part written; never raises for a part already gone."""


class Storage(abc.ABC):
    """Named objects in a container.

    Names are relative ``/``-separated paths such as
    ``data/tar/host_name/1700000000/0_1700000000/data``.  The storage maps them
    to files, objects or keys; ``list`` gives directory-like views of them.
    """

    name: ClassVar[str]
    api_version: ClassVar[int] = CONTRACT_VERSION

    def __init__(self, container: str, options: Options) -> None:
        self.container = container
        self.options = options

    # --- writing
    @abc.abstractmethod
    def put(self, name: str, data: bytes) -> None:
        """Store a small object whole, replacing any previous one."""

    @abc.abstractmethod
    def open_upload(self, name: str) -> Upload:
        """Start writing a large object in parts (see :class:`Upload`)."""

    # --- reading
    @abc.abstractmethod
    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        """Read an object, or ``length`` bytes of it from ``offset``.

        :raises ObjectNotFound: when there is no such object.
        """

    @abc.abstractmethod
    def size(self, name: str) -> int | None:
        """Size of an object in bytes, or None when it does not exist."""

    @abc.abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Names of the direct children of the directory ``prefix``, sorted.

        ``list("metadata/tar/host_db")`` returns ``["1700000000", ...]`` and
        never the children of ``host_db2``.  A missing prefix lists as ``[]``.
        """

    @abc.abstractmethod
    def walk(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object at or below ``prefix`` with its size (for ``info``)."""

    # --- removing
    @abc.abstractmethod
    def delete(self, name: str) -> None:
        """Remove the object ``name`` and every object below ``name/``.

        Removing something that does not exist is not an error.
        """

    # --- behaviour
    def properties(self) -> StorageProperties:
        return StorageProperties()

    def is_permanent(self, exc: BaseException) -> bool:
        """True when retrying ``exc`` cannot help (wrong credentials, not found)."""
        return not isinstance(exc, (TransientStorageError, ConnectionError, TimeoutError))

    def describe(self) -> str:
        """Where the data goes, for messages: ``local:/srv/backups``."""
        return f"{self.name}:{self.container}"

    def close(self) -> None:
        """Release connections."""


# ---------------------------------------------------------------- engine


@dataclass
class Source:
    """A consistent thing to back up, made by a mode."""

    path: Path | None
    """Directory or file to read (None for resources that are not files)."""
    resource_id: str = ""
    """What the backup is of: hostname for fs, instance/volume id otherwise."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Mode facts an engine may need (e.g. server details for nova)."""


class BackupStream(abc.ABC):
    """The bytes of one backup, produced lazily, plus the engine state after it."""

    @abc.abstractmethod
    def __iter__(self) -> Iterator[bytes]: ...

    @abc.abstractmethod
    def state(self) -> bytes:
        """Engine state for the next level; only valid once iteration ended."""

    def close(self) -> None:
        """Stop producing (called on failure too); must be idempotent."""


@dataclass(frozen=True)
class StoredBackup:
    """One stored backup level, as the admin action shows it to :meth:`Engine.forget`.

    Both callables read the storage only when called, so an engine with nothing
    to release costs no request.
    """

    level: int
    time_stamp: int
    level0_time_stamp: int
    metadata: Callable[[], Mapping[str, Any]]
    """The backup's ``metadata`` object (engine_name, compression, encryption, ...)."""
    read: Callable[[], Iterable[bytes]]
    """The stream the engine produced at backup time, decrypted and decompressed."""


class Engine(abc.ABC):
    """Turns a source into a byte stream and back."""

    name: ClassVar[str]
    api_version: ClassVar[int] = CONTRACT_VERSION
    supports_incremental: ClassVar[bool] = True
    reads_path: ClassVar[bool] = True
    """Backup reads the files at ``--path-to-backup`` (the source's ``path``).

    Validation checks an action before any plugin runs, so it cannot learn from a failed
    backup that the path was needed: it asks the engine class.  An engine that streams
    from a server instead (a database's own backup tool) sets this False, and the
    action then needs no ``--path-to-backup``.
    """
    writes_path: ClassVar[bool] = True
    """Restore writes into a target the action names (``--restore-abs-path`` or a resource id).

    An engine that restores into a server instead (the one its options connect to) sets
    this False, and validation then accepts a restore that names no target.
    """
    chain_state: ClassVar[bool] = False
    """Backup receives the states of every level of the chain, not only the parent's.

    By default an increment's ``previous_state`` is its parent's state, which must then
    describe everything the next level compares against.  An engine whose state grows
    with the data (rsync: block signatures of every file) would re-store all of it at
    every level; setting this True lets it store only what changed at each level, and
    ``backup`` then gets ``previous_state`` as a list of ``bytes``, level 0 first and the
    parent last (None still means level 0).
    """

    def __init__(self, options: Options) -> None:
        self.options = options

    @abc.abstractmethod
    def backup(self, source: Source, previous_state: bytes | None) -> BackupStream:
        """Start a backup; ``previous_state`` is the parent level's state, or None for level 0.

        An engine with :attr:`chain_state` gets the list of the chain's states instead.
        """

    @abc.abstractmethod
    def restore(self, chunks: Iterable[bytes], target: Path, level: int) -> None:
        """Apply one level's stream to ``target``; levels arrive in order, 0 first."""

    def metadata(self) -> dict[str, Any]:
        """Extra keys for the backup's ``metadata`` object (e.g. rsync_block_size)."""
        return {}

    def forget(self, backup: StoredBackup) -> None:
        """Release what ``backup`` holds outside the storage: the admin action is removing it.

        Most engines keep everything in the storage and have nothing to do.  One whose
        backups live elsewhere too (cindernative: the backup inside cinder-backup) deletes
        that here, and returns only once it is gone.  The admin action calls this for each
        backup it removes, the newest first (an increment before its parent), and deletes
        the backup's catalog entry only after this returned: raising keeps the backup and
        every level below it listed and restorable.  Raise
        :class:`~freezer_core.errors.BackupInUse` when the backup must stay because
        something kept still needs it (the admin action then moves on); any other error
        stops the admin action.
        """


# ---------------------------------------------------------------- mode


class Mode(abc.ABC):
    """Makes a consistent source, and receives restored data."""

    name: ClassVar[str]
    api_version: ClassVar[int] = CONTRACT_VERSION

    def __init__(self, options: Options) -> None:
        self.options = options

    @classmethod
    def preferred_engine(cls, options: Options) -> str | None:
        """The engine to use when the user named none (``--engine`` not given), or None for the default.

        A mode whose best method is a stream rather than files says so here,
        e.g. mysql picks its hot physical engine when the tool is installed.
        """
        return None

    @abc.abstractmethod
    def prepare(self) -> contextlib.AbstractContextManager[Source]:
        """Lock/snapshot/dump; the context manager always releases, even on failure."""

    @abc.abstractmethod
    def restoring(self) -> contextlib.AbstractContextManager[Path]:
        """A directory to restore into; on clean exit the resource is put back."""
