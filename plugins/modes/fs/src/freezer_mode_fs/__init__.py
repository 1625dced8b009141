"""fs mode: back up a directory or a single file, optionally from a snapshot.

Consistency for plain files comes from a file-system snapshot when one is
asked for (``--snapshot``): the engine then reads the frozen snapshot, not
the live tree.  Without a snapshot the tree is read live, as every
file-level backup tool does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from freezer_core.contract import Mode, Source
from freezer_core.errors import ModeError, ValidationError
from freezer_mode_fs.snapshot import snapshot_for

__all__ = ["FsMode"]

LOG = logging.getLogger("freezer.mode.fs")


class FsMode(Mode):
    name = "fs"

    @contextlib.contextmanager
    def prepare(self) -> Iterator[Source]:
        raw = self.options.get("path_to_backup")
        if not raw:
            raise ValidationError("--path-to-backup is required for --mode fs: give the directory "
                                  "or file to back up")
        path = Path(raw).expanduser().absolute()
        denied = ModeError(f"--path-to-backup {raw}: permission denied (run as a user who can read it)")
        try:
            path.stat()
        except FileNotFoundError:
            raise ValidationError(f"--path-to-backup {raw}: no such file or directory") from None
        except PermissionError:
            raise denied from None
        if not os.access(path, os.R_OK) or (path.is_dir() and not os.access(path, os.X_OK)):
            raise denied
        if self.options.get("sync", True):
            os.sync()
        hostname = self.options.get("hostname") or socket.gethostname()
        if self.options.get("snapshot"):
            with snapshot_for(path, self.options) as frozen:
                LOG.info("backing up %s from snapshot %s", path, frozen)
                yield Source(frozen, hostname, {"fs_real_path": str(path), "vol_snap_path": str(frozen)})
        else:
            yield Source(path, hostname, {"fs_real_path": str(path)})

    @contextlib.contextmanager
    def restoring(self) -> Iterator[Path]:
        raw = self.options.get("restore_abs_path")
        if not raw:
            raise ValidationError("--restore-abs-path is required to restore files: give the "
                                  "directory to restore into")
        target = Path(raw).expanduser().absolute()
        if target.exists() and not target.is_dir():
            raise ValidationError(f"--restore-abs-path {raw} is not a directory")
        if target.is_dir() and any(target.iterdir()) and not self.options.get("overwrite"):
            raise ValidationError(f"--restore-abs-path {raw} is not empty: restore into an empty "
                                  f"directory or add --overwrite")
        if not self.options.get("dry_run"):
            try:
                target.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ModeError(f"cannot create --restore-abs-path {raw}: {exc.strerror}") from exc
        yield target
