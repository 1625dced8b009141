"""The backup side: a running ``mariadb-backup --backup --stream=xbstream`` as a :class:`BackupStream`.

The tool starts on first iteration, so a stream that is never read leaves no
process behind.  ``--extra-lsndir`` makes it write the level's checkpoints to
a private directory besides the stream: that file is the engine state.  For
an increment the parent's checkpoints are written to another private
directory given as ``--incremental-basedir``: the tool then copies only the
pages changed since the parent's LSN.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from freezer_core.contract import BackupStream
from freezer_core.errors import EngineError
from freezer_engine_mariabackup.proc import last_error, stderr_lines, stop

LOG = logging.getLogger("freezer.engine.mariabackup")

CHUNK_SIZE = 1 << 20
CHECKPOINTS = "xtrabackup_checkpoints"
CLOSED = "the mariabackup stream was closed before it ended: run the backup again"


def backup_argv(tool: str, defaults_file: str, work: Path, incremental: bool) -> list[str]:
    """The tool's command line; ``--defaults-file`` must come first, and no compression or encryption."""
    argv = [tool, f"--defaults-file={defaults_file}", "--backup", "--stream=xbstream",
            f"--target-dir={work / 'target'}", f"--extra-lsndir={work / 'lsn'}"]
    if incremental:
        argv.append(f"--incremental-basedir={work / 'base'}")
    return argv


class XbstreamBackup(BackupStream):
    """One mariadb-backup run: iterate once for the xbstream, then ``state()`` for the checkpoints."""

    def __init__(self, tool: str, defaults_file: str, previous_state: bytes | None) -> None:
        self._tool = tool
        self._defaults = defaults_file
        self._previous = previous_state
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._work: Path | None = None
        self._state: bytes | None = None
        self._started = False
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        with self._lock:
            if self._started:
                raise EngineError("a mariabackup stream can be read only once: start a new backup")
            if self._closed:
                raise EngineError(CLOSED)
            self._started = True
        try:
            proc = self._start()
        except BaseException:
            self.close()
            raise
        return self._chunks(proc)

    def _start(self) -> subprocess.Popen[bytes]:
        self._work = work = Path(tempfile.mkdtemp(prefix="freezer-mariabackup-"))
        for sub in ("target", "lsn", "base"):
            (work / sub).mkdir(mode=0o700)
        if self._previous is not None:
            (work / "base" / CHECKPOINTS).write_bytes(self._previous)
        argv = backup_argv(self._tool, self._defaults, work, self._previous is not None)
        LOG.debug("running %s", argv)
        self._stderr = tempfile.TemporaryFile(dir=work)  # noqa: SIM115 - lives until close()
        try:
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=self._stderr, bufsize=CHUNK_SIZE)
        except OSError as exc:
            raise EngineError(f"could not start {self._tool}: {exc.strerror}") from exc
        assert self._proc.stdout is not None
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(self._proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, CHUNK_SIZE)
        return self._proc

    def _chunks(self, proc: subprocess.Popen[bytes]) -> Iterator[bytes]:
        stdout = proc.stdout
        assert stdout is not None
        try:
            while True:
                try:
                    chunk = stdout.read(CHUNK_SIZE)
                except ValueError:
                    raise EngineError(CLOSED) from None
                if self._closed:
                    raise EngineError(CLOSED)
                if not chunk:
                    break
                yield chunk
            rc = proc.wait()
            assert self._stderr is not None and self._work is not None
            lines = stderr_lines(self._stderr)
            if rc != 0:
                raise EngineError(f"mariadb-backup failed (exit {rc}): {last_error(lines)}; "
                                  f"fix the cause and run the backup again")
            checkpoints = self._work / "lsn" / CHECKPOINTS
            if not checkpoints.exists():
                raise EngineError("mariadb-backup ended without writing its checkpoints: run the backup again")
            self._state = checkpoints.read_bytes()
            LOG.info("mariadb-backup done: %s", " ".join(self._state.decode("ascii", "replace").split()))
        finally:
            self.close()

    def state(self) -> bytes:
        if self._state is None:
            raise EngineError("mariabackup engine state is only available after the whole stream was read")
        return self._state

    def close(self) -> None:
        """Kill the tool if it still runs, reap it and remove the private directory; safe to repeat."""
        with self._lock:
            self._closed = True
            proc, self._proc = self._proc, None
            stderr, self._stderr = self._stderr, None
            work, self._work = self._work, None
        if proc is not None:
            stop(proc)
        if stderr is not None:
            stderr.close()
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
