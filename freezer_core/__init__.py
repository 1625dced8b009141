"""Freezer core: models, plugin contract, pipeline, catalog and :func:`run`.

Embedding Freezer in a program is one call::

    import freezer_core
    result = freezer_core.run({"path_to_backup": "/srv", "storage": "local",
                               "container": "/backups", "backup_name": "srv"})
    print(result["curr_backup_level"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "1.0.0.dev0"

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from freezer_core.models import Action


def run(
    action: Action | Mapping[str, Any],
    *,
    progress: Callable[[int, int | None], None] | None = None,
) -> dict[str, Any]:
    """Validate and run one action (backup, restore, admin, info, exec).

    Returns the result record: the fields of upstream's ``--metadata-out``
    JSON, with the real ``curr_backup_level``.  ``progress``, when given, is
    called with (bytes done, total bytes or None) as data flows.

    :raises freezer_core.errors.FreezerError: with a message fit for the user.
    """
    from freezer_core.runner import run as _run

    return _run(action, progress=progress)


__all__ = ["run", "__version__"]
