"""What is particular to running GNU tar: its environment and which of its stderr lines explain a failure."""

from __future__ import annotations

import os

_GENERIC = ("Exiting with failure status", "Error is not recoverable", "Skipping to next header")
"""tar's lines that say only that something went wrong earlier."""


def child_env() -> dict[str, str]:
    """The environment for tar, without TAR_OPTIONS that would silently change its flags."""
    env = dict(os.environ)
    env.pop("TAR_OPTIONS", None)
    return env


def last_error(lines: list[str]) -> str:
    """The line that explains a failure: the last one that is not a generic summary."""
    for line in reversed(lines):
        if not any(generic in line for generic in _GENERIC):
            return line
    return lines[-1] if lines else "no error message"
