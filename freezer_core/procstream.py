"""Engines built on a command-line tool: its stdout as a backup stream, and a stream fed to its stdin.

Many engines are a tool that writes an archive to stdout (tar, mariadb-backup,
mongodump, ...) and a tool that reads one on stdin.  These helpers do the
process handling they all need — start lazily, read in large chunks, never
leave a process, a pipe or a temporary file behind, turn a failure into one
line from the tool's own stderr — so an engine plugin holds only its command
lines and what its tool's exit codes mean.
"""

from __future__ import annotations

import contextlib
import fcntl
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
"""Bytes per chunk read from a tool, and the pipe size asked of the kernel (fewer wake-ups)."""

STDERR_TAIL = 64 * 1024
_SECRET = re.compile(r"(password\s*[=:]\s*|://[^:/@\s]+:)[^@\s]+", re.IGNORECASE)

Check = Callable[[int, list[str]], None]
"""Decides what a tool's exit status means: raise :class:`EngineError`, or log and return."""


def read_chunk(pipe: IO[bytes]) -> bytes:
    """Up to :data:`CHUNK_SIZE` bytes from an unbuffered ``pipe``; fewer only at its end.

    Why unbuffered: a buffered reader copies every byte once more, out of its
    own buffer (about 0.2 CPU-s per GiB of a backup, measured with ``perf``).
    A tool faster than the backup keeps the pipe full, so one ``read`` usually
    fills the whole chunk straight from the kernel; a short read is topped up.
    """
    first = pipe.read(CHUNK_SIZE)
    if not first or len(first) == CHUNK_SIZE:
        return first
    parts, got = [first], len(first)
    while got < CHUNK_SIZE:
        more = pipe.read(CHUNK_SIZE - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)  # one part: the same object, no copy


def redact(line: str) -> str:
    """A tool's log line with password values hidden."""
    return _SECRET.sub(r"\1***", line)


def stderr_tail(stderr: IO[bytes]) -> list[str]:
    """The last non-empty lines a tool wrote to its stderr file, decoded and redacted."""
    stderr.flush()
    size = stderr.seek(0, os.SEEK_END)
    stderr.seek(max(0, size - STDERR_TAIL))
    lines = [redact(s.strip()) for s in stderr.read().decode("utf-8", "replace").splitlines() if s.strip()]
    return lines[1:] if size > STDERR_TAIL and lines else lines  # the first line read may be cut


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc`` if it still runs, close our ends of its pipes and reap it (no zombie).

    The pipes are closed before waiting so that the tool, should the kill not
    land, still ends on a broken pipe instead of blocking the wait forever.
    """
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    proc.wait()


def default_check(tool: str) -> Check:
    """Any non-zero exit status is a failure, explained by the tool's last stderr line."""

    def check(rc: int, lines: list[str]) -> None:
        if rc != 0:
            raise EngineError(f"{tool} failed (exit {rc}): {lines[-1] if lines else 'no message'}")

    return check


class CommandStream(BackupStream):
    """``argv``'s stdout, read once in chunks; the tool starts on first iteration.

    ``check`` judges the exit status, ``state`` gives the engine state once the
    tool succeeded, ``cleanup`` runs exactly once when the stream is closed
    (always, also when it was never read), and ``header`` is yielded first.
    """

    def __init__(self, argv: Sequence[str], *, tool: str, env: Mapping[str, str] | None = None,
                 cwd: str | Path | None = None, state: Callable[[], bytes] = lambda: b"",
                 cleanup: Callable[[], None] | None = None, header: bytes = b"", check: Check | None = None) -> None:
        self.argv, self.tool, self.env, self.cwd = list(argv), tool, env, cwd
        self._state_fn, self._cleanup, self._header = state, cleanup, header
        self._check = check or default_check(tool)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._state: bytes | None = None
        self._started = self._closed = False

    @property
    def _closed_message(self) -> str:
        return f"the {self.tool} stream was closed before it ended: run the backup again"

    def __iter__(self) -> Iterator[bytes]:
        with self._lock:
            if self._started:
                raise EngineError(f"a {self.tool} stream can be read only once: start a new backup")
            if self._closed:
                raise EngineError(self._closed_message)
            self._started = True
        try:
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
            self._proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=self._stderr, env=self.env, cwd=self.cwd, bufsize=0)
        except OSError as exc:
            self.close()
            raise EngineError(f"could not start {self.tool}: {exc.strerror}") from exc
        assert self._proc.stdout is not None
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(self._proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, CHUNK_SIZE)
        return self._chunks(self._proc)

    def _chunks(self, proc: subprocess.Popen[bytes]) -> Iterator[bytes]:
        assert proc.stdout is not None
        try:
            if self._header:
                yield self._header
            while True:
                try:
                    chunk = read_chunk(proc.stdout)
                except ValueError:  # close() from another thread closed the pipe
                    raise EngineError(self._closed_message) from None
                if self._closed:
                    raise EngineError(self._closed_message)
                if not chunk:
                    break
                yield chunk
            rc = proc.wait()
            if self._closed:
                raise EngineError(self._closed_message)
            assert self._stderr is not None
            self._check(rc, stderr_tail(self._stderr))
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
            stop(proc)
        if stderr is not None:
            stderr.close()
        if cleanup is not None:
            cleanup()


def feed_command(argv: Sequence[str], chunks: Iterable[bytes], *, tool: str,
                 env: Mapping[str, str] | None = None, cwd: str | Path | None = None,
                 check: Check | None = None, stdout: IO[bytes] | None = None) -> None:
    """Write ``chunks`` to ``argv``'s stdin and wait for it.

    A tool that dies early makes our next write fail with a broken pipe; what
    the user needs then is the tool's own message, so the exit status and
    stderr are judged by ``check``.  A tool that exits 0 without reading
    everything was given a damaged stream.  A failing chunk source (storage,
    decryption) kills the tool before its error propagates.
    """
    check = check or default_check(tool)
    with tempfile.TemporaryFile() as stderr:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=stdout or subprocess.DEVNULL,
                                    stderr=stderr, env=env, cwd=cwd)
        except OSError as exc:
            raise EngineError(f"could not start {tool}: {exc.strerror}") from exc
        assert proc.stdin is not None
        with contextlib.suppress(OSError, AttributeError):  # as for a tool's stdout: fewer wake-ups
            fcntl.fcntl(proc.stdin.fileno(), fcntl.F_SETPIPE_SZ, CHUNK_SIZE)
        complete = True
        try:
            for chunk in chunks:
                proc.stdin.write(chunk)
            proc.stdin.close()
        except BrokenPipeError:
            complete = False
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()  # flushing the buffer fails the same way once the tool is gone
        except BaseException:
            stop(proc)
            raise
        rc = proc.wait()
        check(rc, stderr_tail(stderr))
        if not complete:
            raise EngineError(f"{tool} stopped reading before the end of the stream: the backup is damaged")
