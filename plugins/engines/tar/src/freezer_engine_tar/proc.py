"""Small helpers shared by backup and restore for running tar as a child process."""

from __future__ import annotations

import contextlib
import os
import subprocess
from typing import IO

STDERR_TAIL = 64 * 1024
"""How much of tar's stderr is read back for messages: enough for the last lines, bounded."""

_GENERIC = ("Exiting with failure status", "Error is not recoverable", "Skipping to next header")
"""tar's lines that say only that something went wrong earlier."""


def child_env() -> dict[str, str]:
    """The environment for tar, without TAR_OPTIONS that would silently change its flags."""
    env = dict(os.environ)
    env.pop("TAR_OPTIONS", None)
    return env


def stderr_lines(stderr: IO[bytes]) -> list[str]:
    """The last lines tar wrote to ``stderr`` (a temporary file), decoded leniently."""
    stderr.flush()
    size = stderr.seek(0, os.SEEK_END)
    stderr.seek(max(0, size - STDERR_TAIL))
    text = stderr.read().decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if size > STDERR_TAIL and lines:
        lines = lines[1:]  # the first line read may be cut in the middle
    return lines


def last_error(lines: list[str]) -> str:
    """The line that explains a failure: the last one that is not a generic summary."""
    for line in reversed(lines):
        if not any(generic in line for generic in _GENERIC):
            return line
    return lines[-1] if lines else "no error message"


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc`` if it still runs, close our ends of its pipes and reap it (no zombie).

    The pipes are closed before waiting so that tar, should the kill not land,
    still ends on a broken pipe instead of blocking the wait forever.
    """
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    proc.wait()
