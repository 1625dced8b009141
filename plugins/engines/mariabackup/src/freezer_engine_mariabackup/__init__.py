"""mariabackup engine: hot physical MariaDB/MySQL backups streamed as xbstream.

Backup runs ``mariadb-backup --backup --stream=xbstream`` and hands its
stdout to the pipeline chunk by chunk: no copy of the database is made on
local disk, and the tool's own compression and encryption stay off because
Freezer's pipeline does both (and better: zstd, authenticated encryption).
The engine state is the ``xtrabackup_checkpoints`` file (the LSN range of the
level), which is all ``--incremental-basedir`` needs to make the next level.

Restore extracts level 0 into the target with ``mbstream -x``, runs
``--prepare`` so the datadir is consistent and startable, and applies each
later level with ``--prepare --incremental-dir``.  After every level the
target is a datadir a server can start on.

The source comes from ``--mode mysql``: its ``extra`` holds a private option
file with the credentials (``mysql_defaults_file``), removed by the mode when
the backup ends.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from freezer_core.contract import BackupStream, Engine, Options, Source
from freezer_core.errors import EngineError
from freezer_core.procstream import feed_command, stderr_tail
from freezer_engine_mariabackup.proc import find_tool, last_error
from freezer_engine_mariabackup.stream import CHECKPOINTS, xbstream_backup

__all__ = ["MariabackupEngine"]

LOG = logging.getLogger("freezer.engine.mariabackup")

TOOLS = ("mariadb-backup", "mariabackup")
EXTRACTORS = ("mbstream",)


class MariabackupEngine(Engine):
    """Hot physical backups of a MariaDB server (``--mode mysql --engine mariabackup``)."""

    name = "mariabackup"
    supports_incremental = True
    reads_path = False  # the server named by the mode's defaults file, not --path-to-backup

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.overwrite = bool(options.get("overwrite"))
        self.dry_run = bool(options.get("dry_run"))

    def backup(self, source: Source, previous_state: bytes | None) -> BackupStream:
        defaults = source.extra.get("mysql_defaults_file")
        if not defaults:
            raise EngineError("--engine mariabackup backs up a MySQL/MariaDB server: use it with --mode mysql")
        tool = find_tool(*TOOLS)
        if previous_state is not None and b"to_lsn" not in previous_state:
            raise EngineError("the parent level's engine state is not a mariabackup checkpoint: start a new "
                              "chain with a level-0 backup (omit --incremental)")
        return xbstream_backup(tool, str(defaults), previous_state)

    def restore(self, chunks: Iterable[bytes], target: Path, level: int) -> None:
        target = Path(target)
        if self.dry_run:
            for _ in chunks:
                pass
            LOG.info("dry run: level %d would be extracted and prepared in %s", level, target)
            return
        tool = find_tool(*TOOLS)
        extractor = find_tool(*EXTRACTORS)
        if level == 0:
            target.mkdir(parents=True, exist_ok=True)
            if any(target.iterdir()) and not self.overwrite:
                raise EngineError(f"restore target {target} is not empty: restore into an empty directory "
                                  f"or pass --overwrite")
            _extract(extractor, chunks, target)
            _run([tool, "--prepare", f"--target-dir={target}"], "mariadb-backup --prepare")
            return
        if not (target / CHECKPOINTS).exists():
            raise EngineError(f"level {level} needs the prepared level 0 in {target}: restore the whole chain")
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.freezer-level{level}-", dir=target.parent))
        try:
            _extract(extractor, chunks, staging)
            _run([tool, "--prepare", f"--target-dir={target}", f"--incremental-dir={staging}"],
                 f"mariadb-backup --prepare of level {level}")
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def metadata(self) -> dict[str, Any]:
        return {"stream_format": "xbstream"}


def _extract(extractor: str, chunks: Iterable[bytes], into: Path) -> None:
    """Feed one level's xbstream to ``mbstream -x`` writing into ``into``."""

    def check(rc: int, lines: list[str]) -> None:
        if rc != 0:
            raise EngineError(f"mbstream could not extract the backup into {into} (exit {rc}): {last_error(lines)}")

    feed_command([extractor, "-x", "-C", str(into)], chunks, tool="mbstream", check=check)


def _run(argv: list[str], what: str) -> None:
    with tempfile.TemporaryFile() as stderr:
        try:
            rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                                check=False).returncode
        except OSError as exc:
            raise EngineError(f"could not run {argv[0]}: {exc.strerror}") from None
        if rc != 0:
            raise EngineError(f"{what} failed (exit {rc}): {last_error(stderr_tail(stderr))}")
        with contextlib.suppress(OSError):
            for line in stderr_tail(stderr)[-3:]:
                LOG.debug("%s: %s", what, line)
