"""Running the backup tools: finding them, reading their stderr, stopping them cleanly."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from typing import IO

from freezer_core.errors import EngineError

STDERR_TAIL = 64 * 1024
_SECRET = re.compile(r"(password\s*[=:]\s*)\S+", re.IGNORECASE)
_ERROR = re.compile(r"\b(error|failed|fatal|denied|can't|cannot|unknown)\b", re.IGNORECASE)


def find_tool(*names: str) -> str:
    """The first of ``names`` on PATH, or an :class:`EngineError` saying what to install."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise EngineError(f"{names[0]} is not installed: install it (Debian: apt install mariadb-backup) "
                      f"to use --engine mariabackup")


def redact(line: str) -> str:
    """A tool's log line with any password value hidden."""
    return _SECRET.sub(r"\1***", line)


def stderr_lines(stderr: IO[bytes]) -> list[str]:
    """The last lines a tool wrote to ``stderr`` (a temporary file), decoded and redacted."""
    stderr.flush()
    size = stderr.seek(0, os.SEEK_END)
    stderr.seek(max(0, size - STDERR_TAIL))
    text = stderr.read().decode("utf-8", "replace")
    lines = [redact(line.strip()) for line in text.splitlines() if line.strip()]
    return lines[1:] if size > STDERR_TAIL and lines else lines


def last_error(lines: list[str]) -> str:
    """The line that best explains a failure: the last one that looks like an error."""
    for line in reversed(lines):
        if _ERROR.search(line):
            return line
    return lines[-1] if lines else "no error message"


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc`` if it still runs, close our pipe ends and reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    proc.wait()
