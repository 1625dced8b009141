"""Finding mariadb-backup's tools, and which of their stderr lines explain a failure."""

from __future__ import annotations

import re
import shutil

from freezer_core.errors import EngineError

_ERROR = re.compile(r"\b(error|failed|fatal|denied|can't|cannot|unknown)\b", re.IGNORECASE)


def find_tool(*names: str) -> str:
    """The first of ``names`` on PATH, or an :class:`EngineError` saying what to install."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise EngineError(f"{names[0]} is not installed: install it (Debian: apt install mariadb-backup) "
                      f"to use --engine mariabackup")


def last_error(lines: list[str]) -> str:
    """The line that best explains a failure: the last one that looks like an error."""
    for line in reversed(lines):
        if _ERROR.search(line):
            return line
    return lines[-1] if lines else "no error message"
