"""Engines built on a command-line tool: its stdout as a backup stream, and a stream fed to its stdin.

Many engines are a tool that writes an archive to stdout (tar, mariadb-backup,
mongodump, ...) and a tool that reads one on stdin.  These two helpers do the
process handling they all need — start lazily, read in large chunks, never
leave a process or a pipe behind, turn a failure into one line from the
tool's own stderr — so an engine plugin holds only its command lines.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from freezer_core.contract import BackupStream
from freezer_core.errors import EngineError

LOG = logging.getLogger("freezer.engine")

CHUNK_SIZE = 1 << 20
STDERR_TAIL = 64 * 1024
_SECRET = re.compile(r"(password\s*[=:]\s*|://[^:/@\s]+:)[^@\s]+", re.IGNORECASE)


def redact(line: str) -> str:
    """A tool's log line with password values hidden."""
    return _SECRET.sub(r"\1***", line)


def stderr_tail(stderr: IO[bytes]) -> list[str]:
    """The last non-empty lines a tool wrote to its stderr file, decoded and redacted."""
    stderr.flush()
    size = stderr.seek(0, os.SEEK_END)
    stderr.seek(max(0, size - STDERR_TAIL))
    lines = [redact(s.strip()) for s in stderr.read().decode("utf-8", "replace").splitlines() if s.strip()]
    return lines[1:] if size > STDERR_TAIL and lines else lines


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    proc.wait()


class CommandStream(BackupStream):
    """``argv``'s stdout, read once in chunks; the tool starts on first iteration.

    ``state`` is called after the tool exited successfully and gives the engine
    state; ``cleanup`` runs once when the stream is closed (always).
    """

    def __init__(self, argv: Sequence[str], *, tool: str, env: Mapping[str, str] | None = None,
                 cwd: str | Path | None = None, state: Callable[[], bytes] = lambda: b"",
                 cleanup: Callable[[], None] | None = None, header: bytes = b"") -> None:
        self.argv, self.tool, self.env, self.cwd = list(argv), tool, env, cwd
        self._state_fn, self._cleanup, self._header = state, cleanup, header
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._state: bytes | None = None
        self._started = self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        with self._lock:
            if self._started or self._closed:
                raise EngineError(f"the {self.tool} stream can be read only once: start a new backup")
            self._started = True
        try:
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
            self._proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=self._stderr, env=self.env, cwd=self.cwd)
        except OSError as exc:
            self.close()
            raise EngineError(f"could not start {self.tool}: {exc.strerror}") from exc
        return self._chunks(self._proc)

    def _chunks(self, proc: subprocess.Popen[bytes]) -> Iterator[bytes]:
        assert proc.stdout is not None
        try:
            if self._header:
                yield self._header
            while chunk := proc.stdout.read(CHUNK_SIZE):
                yield chunk
            rc = proc.wait()
            assert self._stderr is not None
            if rc != 0:
                lines = stderr_tail(self._stderr)
                raise EngineError(f"{self.tool} failed (exit {rc}): {lines[-1] if lines else 'no message'}")
            self._state = self._state_fn()
        finally:
            self.close()

    def state(self) -> bytes:
        if self._state is None:
            raise EngineError(f"the {self.tool} engine state is known only after the whole stream was read")
        return self._state

    def close(self) -> None:
        with self._lock:
            self._closed = True
            proc, self._proc = self._proc, None
            stderr, self._stderr = self._stderr, None
            cleanup, self._cleanup = self._cleanup, None
        if proc is not None:
            _stop(proc)
        if stderr is not None:
            stderr.close()
        if cleanup is not None:
            cleanup()


def feed_command(argv: Sequence[str], chunks: Iterable[bytes], *, tool: str,
                 env: Mapping[str, str] | None = None, cwd: str | Path | None = None) -> None:
    """Write ``chunks`` to ``argv``'s stdin and wait; a failure is the tool's own last stderr line."""
    with tempfile.TemporaryFile() as stderr:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr,
                                    env=env, cwd=cwd)
        except OSError as exc:
            raise EngineError(f"could not start {tool}: {exc.strerror}") from exc
        assert proc.stdin is not None
        try:
            for chunk in chunks:
                proc.stdin.write(chunk)
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the tool stopped reading: its exit status and stderr say why
        except BaseException:
            _stop(proc)
            raise
        rc = proc.wait()
        if rc != 0:
            lines = stderr_tail(stderr)
            raise EngineError(f"{tool} failed (exit {rc}): {lines[-1] if lines else 'no message'}")
