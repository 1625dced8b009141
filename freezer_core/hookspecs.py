"""Lifecycle hooks every plugin may implement (pluggy project ``freezer``).

Register an implementation module under the ``freezer.plugins`` entry-point
group, then decorate functions with :data:`hookimpl`::

    from freezer_core.hookspecs import hookimpl

    @hookimpl
    def backup_completed(action, record):
        print("backed up", record["backup_name"])

Implementations may accept fewer arguments than the spec (pluggy's opt-in
arguments), so a spec can grow without breaking plugins.  Exceptions raised
by a hook implementation are logged and never fail the backup.
Each hook is documented in docs/plugins.md; a test fails when one is not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from freezer_core.errors import FreezerError
    from freezer_core.models import Action

hookspec = pluggy.HookspecMarker("freezer")
hookimpl = pluggy.HookimplMarker("freezer")


@hookspec
def action_started(action: Action) -> None:
    """Called once the action is validated, before any data is read or written."""


@hookspec
def action_finished(action: Action, result: dict[str, Any]) -> None:
    """Called after any action succeeded, with its result record."""


@hookspec
def backup_completed(action: Action, record: dict[str, Any]) -> None:
    """Called after a backup's metadata was written: the backup is restorable now."""


@hookspec
def action_failed(action: Action, error: FreezerError) -> None:
    """Called when an action failed, with the error the user will see."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add sub-commands to the ``freezer`` command line."""
