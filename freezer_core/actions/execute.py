"""The exec action: run a command through the shell, as a step of a job.

The command is the user's own script line (``echo hi | tr h H``), so it goes
to ``/bin/sh -c`` whole; it never receives text from anywhere else.
"""

from __future__ import annotations

import subprocess
from typing import Any

from freezer_core.actions.common import result_record
from freezer_core.errors import EngineError
from freezer_core.models import Action


def run(action: Action, progress: Any = None) -> dict[str, Any]:
    if action.dry_run:
        return result_record(action, command=action.command, returncode=None)
    try:
        done = subprocess.run(["/bin/sh", "-c", action.command], check=False)
    except OSError as exc:
        raise EngineError(f"cannot run --command: {exc.strerror}") from None
    if done.returncode != 0:
        raise EngineError(f"--command exited with status {done.returncode}: {action.command}")
    return result_record(action, command=action.command, returncode=0)
