"""The backup side: ``mariadb-backup --backup --stream=xbstream`` as a :class:`BackupStream`.

The process handling is the core's :class:`CommandStream`.  What is
mariadb-backup's own is the private directory: ``--extra-lsndir`` makes the
tool write the level's checkpoints beside the stream (that file is the
engine state), and for an increment the parent's checkpoints are written to
``--incremental-basedir`` so that only the pages changed since the parent's
LSN are copied.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from freezer_core.contract import BackupStream
from freezer_core.errors import EngineError
from freezer_core.procstream import CommandStream
from freezer_engine_mariabackup.proc import last_error

LOG = logging.getLogger("freezer.engine.mariabackup")

CHECKPOINTS = "xtrabackup_checkpoints"


def backup_argv(tool: str, defaults_file: str, work: Path, incremental: bool) -> list[str]:
    """The tool's command line; ``--defaults-file`` must come first, and no compression or encryption."""
    argv = [tool, f"--defaults-file={defaults_file}", "--backup", "--stream=xbstream",
            f"--target-dir={work / 'target'}", f"--extra-lsndir={work / 'lsn'}"]
    if incremental:
        argv.append(f"--incremental-basedir={work / 'base'}")
    return argv


def xbstream_backup(tool: str, defaults_file: str, previous_state: bytes | None) -> BackupStream:
    """One mariadb-backup run: iterate once for the xbstream, then ``state()`` for the checkpoints."""
    work = Path(tempfile.mkdtemp(prefix="freezer-mariabackup-"))
    for sub in ("target", "lsn", "base"):
        (work / sub).mkdir(mode=0o700)
    if previous_state is not None:
        (work / "base" / CHECKPOINTS).write_bytes(previous_state)
    argv = backup_argv(tool, defaults_file, work, previous_state is not None)
    LOG.debug("running %s", argv)

    def check(rc: int, lines: list[str]) -> None:
        if rc != 0:
            raise EngineError(f"mariadb-backup failed (exit {rc}): {last_error(lines)}; "
                              f"fix the cause and run the backup again")

    def state() -> bytes:
        checkpoints = work / "lsn" / CHECKPOINTS
        if not checkpoints.exists():
            raise EngineError("mariadb-backup ended without writing its checkpoints: run the backup again")
        data = checkpoints.read_bytes()
        LOG.info("mariadb-backup done: %s", " ".join(data.decode("ascii", "replace").split()))
        return data

    return CommandStream(argv, tool="mariadb-backup", check=check, state=state,
                         cleanup=lambda: shutil.rmtree(work, ignore_errors=True))
