"""``run(action)``: validate one action, dispatch it, report it to the hooks.

This is the whole embedding API; the CLI, the scheduler and the API service
all end here.  It never prints: the result record is returned and failures
are raised as :class:`~freezer_core.errors.FreezerError`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from freezer_core.actions import admin, backup, execute, info, restore
from freezer_core.errors import FreezerError, Interrupted
from freezer_core.models import Action
from freezer_core.plugins import call_hook, load_class
from freezer_core.validation import validate

LOG = logging.getLogger("freezer")

Progress = Callable[[int, "int | None"], None]
"""Called with (bytes done, total bytes or None) while data flows."""

HANDLERS: dict[str, Callable[[Action, Progress | None], dict[str, Any]]] = {
    "backup": backup.run,
    "restore": restore.run,
    "admin": admin.run,
    "info": info.run,
    "exec": execute.run,
}


def run(action: Action | Mapping[str, Any], *, progress: Progress | None = None) -> dict[str, Any]:
    """Validate and run one action; return its result record.

    :raises FreezerError: every failure, with a message meant for the user.
    """
    if not isinstance(action, Action):
        action = Action.from_dict(dict(action))
    action = _with_preferred_engine(_with_media_mode(action))
    validate(action)
    call_hook("action_started", action=action)
    try:
        result = HANDLERS[action.action](action, progress)
    except FreezerError as error:
        call_hook("action_failed", action=action, error=error)
        raise
    except KeyboardInterrupt:
        error = Interrupted(f"{action.action} interrupted: nothing partial was recorded")
        call_hook("action_failed", action=action, error=error)
        raise error from None
    call_hook("action_finished", action=action, result=result)
    return result


def _with_media_mode(action: Action) -> Action:
    """``--cinder-vol-id`` and the like pick their mode when ``--mode`` is left at fs, as upstream's media do.

    Upstream decides what to back up from these options and ignores ``--mode fs``, so
    ``freezer-agent --cinderbrick-vol-id ID`` (the deployment note's cinderbrick way) works.
    """
    media = action.backup_media()
    if action.mode == "fs" and media != "fs" and action.action in ("backup", "restore", "admin"):
        return action.replace(mode=media)
    return action


def _with_preferred_engine(action: Action) -> Action:
    """Let the mode choose the engine when the user did not name one."""
    if "engine_name" in action.given() or action.action not in ("backup", "restore", "admin"):
        return action
    try:
        mode = load_class("mode", action.mode)
    except FreezerError:
        return action  # validation reports the missing mode with its fix
    engine = mode.preferred_engine(action)
    return action.replace(engine_name=engine) if engine and engine != action.engine_name else action
