"""osbrick engine: the files of an attached volume (block device or image file) as tar archives.

``--mode cinderbrick`` attaches a copy of a Cinder volume to this host through
os-brick and hands the engine what os-brick returned: a block device, or the
volume's file on a mounted NFS share.  The engine mounts it read-only (see
:mod:`freezer_engine_osbrick.mount`) and lets the tar engine stream its files,
with tar's incremental levels: paths are relative to the mount, so levels made
from different snapshot copies chain up.  Restore mounts the volume it is
given, makes an ext4 file system on level 0 when there is none, and extracts
each level into it.  The storage layout is upstream's ``data/osbrick/...``.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from freezer_engine_tar import TarEngine

from freezer_core.contract import BackupStream, Engine, Options, Source
from freezer_core.errors import EngineError
from freezer_engine_osbrick.mount import Mounted

__all__ = ["OsbrickEngine"]

LOG = logging.getLogger("freezer.engine.osbrick")
SYSTEM_ENTRIES = {"lost+found"}
"""What a fresh ext4 file system already holds: not user data."""


class _MountedStream(BackupStream):
    """The tar stream of a mounted volume; closing it unmounts."""

    def __init__(self, inner: BackupStream, mounted: Mounted) -> None:
        self.inner, self.mounted = inner, mounted

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.inner)

    def state(self) -> bytes:
        return self.inner.state()

    def close(self) -> None:
        try:
            self.inner.close()
        finally:
            self.mounted.close()


class OsbrickEngine(Engine):
    name = "osbrick"
    supports_incremental = True

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.dry_run = bool(options.get("dry_run"))
        self.overwrite = bool(options.get("overwrite"))

    def _tar(self, **override: Any) -> TarEngine:
        return TarEngine({**{k: self.options.get(k) for k in ("exclude", "dereference_symlink", "dry_run")},
                          "overwrite": self.overwrite, **override})

    def backup(self, source: Source, previous_state: bytes | None) -> BackupStream:
        if source.path is None:
            raise EngineError("the osbrick engine backs up an attached volume: use --mode cinderbrick")
        tar = self._tar()
        mounted = Mounted(Path(source.path), read_only=True)
        directory = mounted.__enter__()
        try:
            inner = tar.backup(Source(directory, resource_id=source.resource_id, extra=source.extra), previous_state)
        except BaseException:
            mounted.close()
            raise
        return _MountedStream(inner, mounted)

    def restore(self, chunks: Iterable[bytes], target: Path, level: int) -> None:
        if self.dry_run:
            with tempfile.TemporaryDirectory(prefix="freezer-osbrick-") as scratch:
                self._tar().restore(chunks, Path(scratch), level)
            return
        with Mounted(Path(target), read_only=False, make_filesystem=level == 0) as directory:
            if level == 0 and not self.overwrite:
                found = sorted(p.name for p in directory.iterdir() if p.name not in SYSTEM_ENTRIES)
                if found:
                    raise EngineError(f"volume {target} already holds files ({', '.join(found[:3])}): restore into "
                                      f"an empty volume or pass --overwrite")
            self._tar(overwrite=True).restore(chunks, directory, level)
