"""The :class:`RsyncEngine` plugin: option handling and validation around backup and restore."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from freezer_core.contract import BackupStream, Engine, Options, Source
from freezer_core.errors import EngineError, ValidationError
from freezer_engine_rsync.backup import RsyncBackupStream
from freezer_engine_rsync.format import STATE_VERSION, VERSION
from freezer_engine_rsync.restore import LevelRestore

log = logging.getLogger("freezer.engine.rsync")

DEFAULT_BLOCK_SIZE = 4096
"""Used when the action gives no ``rsync_block_size`` (docs/rsync-engine.md has the measurements)."""
MIN_BLOCK_SIZE = 512
MAX_BLOCK_SIZE = 1 << 20


class RsyncEngine(Engine):
    """Files and directories as rsync-style block deltas.

    Options (upstream ``freezer-agent`` dests): ``rsync_block_size``,
    ``exclude`` (one glob), ``dereference_symlink`` ('', soft, hard, all),
    ``dry_run`` (restore checks and lists instead of writing) and
    ``overwrite`` (allow a level-0 restore into a non-empty directory).
    """

    name = "rsync"
    supports_incremental = True
    chain_state = True
    """A level's state holds only what changed at it (state.py): the next level needs them all."""

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        size = options.get("rsync_block_size") or DEFAULT_BLOCK_SIZE
        if not isinstance(size, int) or not MIN_BLOCK_SIZE <= size <= MAX_BLOCK_SIZE:
            raise ValidationError(f"--rsync-block-size {size} is out of range: give {MIN_BLOCK_SIZE} bytes "
                                  f"to {MAX_BLOCK_SIZE // (1 << 20)} MiB")
        self.block_size = size
        self.exclude: str | None = options.get("exclude") or None
        deref = options.get("dereference_symlink") or ""
        if deref not in ("", "none", "soft", "hard", "all"):
            raise ValidationError(f"--dereference-symlink {deref} is not one of soft, hard, all")
        self.dereference = deref in ("soft", "all")
        self.hard_links = deref not in ("hard", "all")
        self.dry_run = bool(options.get("dry_run"))
        self.overwrite = bool(options.get("overwrite"))
        self._used_block_size = size
        self._restored_id: bytes | None = None

    def backup(self, source: Source, previous_state: bytes | Sequence[bytes] | None) -> BackupStream:
        """``previous_state``: the chain's states, level 0 first (a single complete state is accepted too)."""
        if source.path is None:
            raise EngineError("the rsync engine backs up files: give it a path (--path-to-backup)")
        path = Path(source.path)
        if not os.path.lexists(path):
            raise EngineError(f"path to back up {path} does not exist: check --path-to-backup")
        states = [previous_state] if isinstance(previous_state, bytes) else list(previous_state or ())
        stream = RsyncBackupStream(path, states, block_size=self.block_size, exclude=self.exclude,
                                   dereference=self.dereference, hard_links=self.hard_links)
        self._used_block_size = stream.block_size
        return stream

    def restore(self, chunks: Iterable[bytes], target: Path, level: int) -> None:
        target = Path(target)
        if not self.dry_run:
            self._prepare_target(target, level)
        parent = self._restored_id if level > 0 else None
        job = LevelRestore(os.fsencode(target), level, dry_run=self.dry_run, parent_id=parent)
        self._restored_id = job.run(chunks)

    def _prepare_target(self, target: Path, level: int) -> None:
        """Create the target; refuse to mix a fresh chain into existing files unless asked to."""
        if target.exists() and not target.is_dir():
            raise EngineError(f"restore target {target} is not a directory: choose a directory")
        target.mkdir(parents=True, exist_ok=True)
        if level == 0 and not self.overwrite and any(target.iterdir()):
            raise EngineError(f"restore target {target} is not empty: empty it or pass --overwrite")

    def metadata(self) -> dict[str, Any]:
        return {"rsync_block_size": self._used_block_size, "rsync_format_version": VERSION,
                "rsync_state_version": STATE_VERSION}
