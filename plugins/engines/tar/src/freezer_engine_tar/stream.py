"""The backup side: a ``tar --create`` run as a :class:`BackupStream`.

The process handling (lazy start, 1 MiB reads straight from the pipe, no
process or file left behind) is the core's :class:`CommandStream`; what is
tar's own is here: the private directory holding the snapshot file that is
the engine state, the member to archive, and what tar's exit codes mean.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from freezer_core.contract import BackupStream
from freezer_core.errors import EngineError
from freezer_core.procstream import Check, CommandStream
from freezer_engine_tar import argv as tar_argv
from freezer_engine_tar.proc import child_env, last_error

log = logging.getLogger("freezer.engine.tar")

SNAPSHOT_NAME = "snapshot"

RC_FILE_CHANGED = 1
"""GNU tar's exit status when files changed or vanished while being read."""


def tar_backup_stream(tar: str, source: Path, previous_state: bytes | None, *, exclude: str | None,
                      dereference: tuple[str, ...]) -> BackupStream:
    """One ``tar --create`` of ``source``: iterate once for the archive, then ``state()`` for the snapshot."""
    tmpdir = Path(tempfile.mkdtemp(prefix="freezer-tar-"))
    snapshot = tmpdir / SNAPSHOT_NAME
    if previous_state is not None:
        snapshot.write_bytes(previous_state)
    cwd, member = (source, ".") if source.is_dir() else (source.parent, source.name)
    argv = tar_argv.backup_argv(tar, member=member, snapshot=str(snapshot), exclude=exclude,
                                dereference=dereference)
    log.debug("running %s in %s", argv, cwd)
    return CommandStream(argv, tool="tar", cwd=cwd, env=child_env(), check=_check(source),
                         state=snapshot.read_bytes, cleanup=lambda: shutil.rmtree(tmpdir, ignore_errors=True))


def _check(source: Path) -> Check:
    """Fail on tar errors; "file changed as we read it" is only worth a warning."""

    def check(rc: int, lines: list[str]) -> None:
        if rc == 0:
            for line in lines:
                log.debug("tar: %s", line)
        elif rc == RC_FILE_CHANGED:
            log.warning("tar finished backing up %s with warnings (files changed while being read): %s",
                        source, last_error(lines))
        else:
            raise EngineError(f"tar failed backing up {source} (exit {rc}): {last_error(lines)};"
                              " fix the cause and run the backup again")

    return check
