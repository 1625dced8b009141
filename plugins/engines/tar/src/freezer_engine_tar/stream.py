"""The backup side: a running ``tar --create`` exposed as a :class:`BackupStream`.

tar starts on first iteration, not when the stream is made, so a stream that
is never consumed leaves no process behind.  Its stdout is read in 1 MiB
chunks by C code (``BufferedReader.read`` fills each chunk straight from the
pipe), because this loop carries every byte of every backup.
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
from freezer_engine_tar import argv as tar_argv
from freezer_engine_tar.proc import child_env, last_error, stderr_lines, stop

log = logging.getLogger("freezer.engine.tar")

CHUNK_SIZE = 1 << 20
"""Bytes per yielded chunk; also the pipe size requested from the kernel, to cut wakeups."""

SNAPSHOT_NAME = "snapshot"

CLOSED = "the tar backup stream was closed before it ended: run the backup again"

RC_FILE_CHANGED = 1
"""GNU tar's exit status when files changed or vanished while being read."""


class TarBackupStream(BackupStream):
    """One ``tar --create`` run: iterate once for the archive, then ``state()`` for the snapshot."""

    def __init__(
        self,
        tar: str,
        source: Path,
        previous_state: bytes | None,
        *,
        exclude: str | None,
        dereference: tuple[str, ...],
    ) -> None:
        self._tar = tar
        self._source = source
        self._previous_state = previous_state
        self._exclude = exclude
        self._dereference = dereference
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._tmpdir: Path | None = None
        self._state: bytes | None = None
        self._started = False
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        with self._lock:
            if self._started:
                raise EngineError("a tar backup stream can be read only once: start a new backup")
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
        """Write the parent snapshot to a private directory and start tar."""
        self._tmpdir = Path(tempfile.mkdtemp(prefix="freezer-tar-"))
        snapshot = self._tmpdir / SNAPSHOT_NAME
        if self._previous_state is not None:
            snapshot.write_bytes(self._previous_state)
        if self._source.is_dir():
            cwd, member = self._source, "."
        else:
            cwd, member = self._source.parent, self._source.name
        argv = tar_argv.backup_argv(
            self._tar,
            member=member,
            snapshot=str(snapshot),
            exclude=self._exclude,
            dereference=self._dereference,
        )
        log.debug("running %s in %s", argv, cwd)
        self._stderr = tempfile.TemporaryFile(dir=self._tmpdir)  # noqa: SIM115 - lives until close()
        try:
            self._proc = subprocess.Popen(
                argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                bufsize=CHUNK_SIZE,
                env=child_env(),
            )
        except OSError as exc:
            raise EngineError(
                f"could not start {self._tar}: {exc.strerror}; check GNU tar is installed"
            ) from exc
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
                except ValueError:  # close() from elsewhere closed the pipe
                    raise EngineError(CLOSED) from None
                if self._closed:
                    raise EngineError(CLOSED)
                if not chunk:
                    break
                yield chunk
            rc = proc.wait()
            if self._closed:
                raise EngineError(CLOSED)
            self._check(rc)
            assert self._tmpdir is not None
            self._state = (self._tmpdir / SNAPSHOT_NAME).read_bytes()
        finally:
            self.close()

    def _check(self, rc: int) -> None:
        """Fail on tar errors; "file changed as we read it" is only worth a warning."""
        assert self._stderr is not None
        lines = stderr_lines(self._stderr)
        if rc == 0:
            for line in lines:
                log.debug("tar: %s", line)
        elif rc == RC_FILE_CHANGED:
            log.warning(
                "tar finished backing up %s with warnings (files changed while being read): %s",
                self._source,
                last_error(lines),
            )
        else:
            raise EngineError(
                f"tar failed backing up {self._source} (exit {rc}): {last_error(lines)};"
                " fix the cause and run the backup again"
            )

    def state(self) -> bytes:
        if self._state is None:
            raise EngineError("tar engine state is only available after the whole stream was read")
        return self._state

    def close(self) -> None:
        """Kill tar if it still runs, reap it and remove the private directory; safe to repeat."""
        with self._lock:
            self._closed = True
            proc, self._proc = self._proc, None
            stderr, self._stderr = self._stderr, None
            tmpdir, self._tmpdir = self._tmpdir, None
        if proc is not None:
            stop(proc)
        if stderr is not None:
            stderr.close()
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
