"""Reading upstream freezer-agent ``--config`` INI files.

The scheduler runs every job action as ``freezer-agent --config <file>`` with the
options in an ``[action]`` section, and operators keep multi-storage setups in
``[storage:NAME]`` sections, so this format is part of the compatibility
surface.  Values keep upstream's spellings of booleans; typing happens later in
:meth:`freezer_core.models.Action.from_dict`, which knows each option's type.
"""

from __future__ import annotations

import configparser
import os
from typing import Any

from freezer_core.errors import ConfigError
from freezer_core.options import normalize_key

STORAGE_PREFIX = "storage:"


def _value(raw: str) -> Any:
    """Upstream's INI conventions: False/false/None mean False, True/true mean True."""
    text = raw.strip()
    if text in ("False", "false", "None"):
        return False
    if text in ("True", "true"):
        return True
    return text


def load_config(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Options and storages from a ``--config`` file.

    Returns ``(options, storages)``: ``options`` merges every section that is
    not a ``[storage:NAME]`` section (``[default]``, the scheduler's
    ``[action]``, ...), later sections winning; ``storages`` holds one dict per
    ``[storage:NAME]`` section, in file order, each with its ``storage`` and
    ``container`` keys and a ``name``.  Keys are option dests; dashes are
    accepted and folded.

    :raises ConfigError: the file is missing, unreadable or malformed, or a
        storage section lacks ``storage`` or ``container``.
    """
    where = os.fspath(path)
    parser = configparser.ConfigParser(interpolation=None, default_section="\0no-default\0",
                                       strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive dests
    try:
        with open(where, encoding="utf-8") as handle:
            parser.read_file(handle, source=where)
    except FileNotFoundError:
        raise ConfigError(f"--config: {where} does not exist; give the path of an INI file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"--config: cannot read {where} ({reason}); check the file") from None
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"--config: {where} is not a valid INI file ({first}); "
                          f"use [default] or [action] sections with key = value lines") from None

    options: dict[str, Any] = {}
    storages: list[dict[str, Any]] = []
    for section in parser.sections():
        values = {normalize_key(k): _value(v) for k, v in parser.items(section, raw=True)}
        if section.strip().lower().startswith(STORAGE_PREFIX):
            name = section.split(":", 1)[1].strip()
            for required in ("storage", "container"):
                if not values.get(required):
                    raise ConfigError(f"--config: section [{section}] of {where} needs a "
                                      f"'{required}' key; add '{required} = ...'")
            storages.append({"name": name, **values})
        else:
            options.update(values)
    return options, storages
