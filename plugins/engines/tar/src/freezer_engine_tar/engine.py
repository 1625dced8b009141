"""The :class:`TarEngine` plugin: option handling and validation around tar runs."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from freezer_core.contract import BackupStream, Engine, Options, Source
from freezer_core.errors import EngineError
from freezer_engine_tar.argv import dereference_flags
from freezer_engine_tar.binary import find_gnu_tar
from freezer_engine_tar.restore import restore_level
from freezer_engine_tar.stream import tar_backup_stream

log = logging.getLogger("freezer.engine.tar")


class TarEngine(Engine):
    """Files and directories as GNU tar listed-incremental archives.

    Options (upstream ``freezer-agent`` dests): ``exclude`` (one glob),
    ``dereference_symlink`` ('', soft, hard, all), ``dry_run`` (restore lists
    instead of extracting) and ``overwrite`` (allow a level-0 restore into a
    non-empty directory).  The engine state is tar's snapshot file.
    """

    name = "tar"
    supports_incremental = True

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.exclude: str | None = options.get("exclude") or None
        self.dereference = dereference_flags(options.get("dereference_symlink"))
        self.dry_run = bool(options.get("dry_run"))
        self.overwrite = bool(options.get("overwrite"))
        self.tar = find_gnu_tar()

    def backup(self, source: Source, previous_state: bytes | None) -> BackupStream:
        if source.path is None:
            raise EngineError("the tar engine backs up files: give it a path (--path-to-backup)")
        path = Path(source.path)
        if not path.exists():
            raise EngineError(f"path to back up {path} does not exist: check --path-to-backup")
        return tar_backup_stream(self.tar, path, previous_state, exclude=self.exclude,
                                 dereference=self.dereference)

    def restore(self, chunks: Iterable[bytes], target: Path, level: int) -> None:
        target = Path(target)
        if not self.dry_run:
            self._prepare_target(target, level)
        restore_level(self.tar, chunks, target, level, dry_run=self.dry_run)

    def _prepare_target(self, target: Path, level: int) -> None:
        """Create the target; refuse to mix a fresh chain into existing files unless asked to."""
        if target.exists() and not target.is_dir():
            raise EngineError(f"restore target {target} is not a directory: choose a directory")
        target.mkdir(parents=True, exist_ok=True)
        if level == 0 and not self.overwrite and any(target.iterdir()):
            raise EngineError(f"restore target {target} is not empty: empty it or pass --overwrite")

    def metadata(self) -> dict[str, Any]:
        return {}
