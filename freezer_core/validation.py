"""Checking an action before anything runs.

Upstream freezer-agent discovers bad combinations late, often as a Python
traceback (``--mode nova`` without ``--engine nova`` ends in ``'NoneType' object
has no attribute 'strip'``).  Here every rule is checked up front and the first
broken one is reported as one line naming the option, in its command-line
spelling, and what to do.  Nothing is touched before validation passes.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from freezer_core.errors import FreezerError, ValidationError
from freezer_core.models import Action
from freezer_core.options import BY_DEST, MODES, OPTIONS

DATE_OPTIONS = ("restore_from_date", "remove_before_date", "remove_from_date")
REMOVAL_OPTIONS = ("remove_older_than", "remove_before_date", "remove_from_date")
RESTORE_TARGETS = ("restore_abs_path", "nova_inst_id", "cinder_vol_id", "cindernative_vol_id",
                   "cinderbrick_vol_id", "project_id")
LEVEL_OPTIONS = ("max_level", "always_level", "restart_always_level")
FILE_MODES = ("fs", "mysql", "mongodb", "mssql")
ENGINE_MODES = {"nova": "nova", "glance": "glance"}
"""Modes whose work is done by the engine of the same name."""


def flag(dest: str) -> str:
    """The command-line spelling of an option, used in every message."""
    return BY_DEST[dest].flag


def parse_date(value: str, option: str = "date") -> datetime:
    """A timezone-aware datetime from ``YYYY-MM-DD[(T| )hh:mm[:ss[.f]]][Z|±hh:mm]``.

    A date without a zone is UTC, as in upstream 19.0.0 (older releases used local time).

    :raises ValidationError: naming ``option``.
    """
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise ValidationError(f"{option}: {value!r} is not a date; use YYYY-MM-DDThh:mm:ss "
                              f"(e.g. 2019-10-19T00:29:27)") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def validate(action: Action) -> None:
    """Check one action; return quietly when it can run.

    :raises ValidationError: the first rule broken, naming the option.
    """
    _check_values(action)
    _check_levels(action)
    _check_mode_engine(action)
    checks = {"backup": _check_backup, "restore": _check_restore, "admin": _check_admin,
              "exec": _check_exec}
    check = checks.get(action.action)
    if check:
        check(action)
    if action.action in ("backup", "restore"):
        _check_removal_count(action, required=False)
        _check_storage(action)
        if action.encrypt_pass_file and _missing(action.encrypt_pass_file):
            raise ValidationError(f"--encrypt-pass-file: {action.encrypt_pass_file} does not exist; "
                                  f"give the file that holds the password")
    action.resolved_backup_name()  # unknown placeholders are a validation error


# ---------------------------------------------------------------- single values


def _check_values(action: Action) -> None:
    for opt in OPTIONS:
        value = action[opt.dest]
        if opt.choices and not opt.open_choices and value is not None and value not in opt.choices:
            raise ValidationError(f"{opt.flag}: unknown value {value!r}; use one of "
                                  + ", ".join(opt.choices))
    if action.mode not in MODES and action.mode not in _installed("mode"):
        raise ValidationError(f"--mode: unknown mode {action.mode!r}; use one of fs, mysql, mongodb, "
                              f"mssql, nova, cinder, cindernative, glance or install its plugin")
    for dest in ("max_segment_size", "rsync_block_size"):
        if action[dest] <= 0:
            raise ValidationError(f"{flag(dest)}: {action[dest]} is not a positive size; "
                                  f"use a size such as 32M")
    for dest in ("upload_limit", "download_limit"):
        if action[dest] < -1 or action[dest] == 0:
            raise ValidationError(f"{flag(dest)}: {action[dest]} is not a bandwidth; use bytes per "
                                  f"second such as 10M, or -1 for unlimited")
    for dest in ("max_level", "always_level", "restart_always_level", "remove_older_than",
                 "fullbackup_rotation"):
        if action[dest] is not None and action[dest] < 0:
            raise ValidationError(f"{flag(dest)}: {action[dest]} is negative; use 0 or more")
    if action.timeout <= 0:
        raise ValidationError(f"--timeout: {action.timeout} is not a positive number of seconds")
    for dest in ("ssh_port", "ftp_port"):
        if not 0 < action[dest] < 65536:
            raise ValidationError(f"{flag(dest)}: {action[dest]} is not a TCP port; use 1-65535")
    for dest in DATE_OPTIONS:
        if action[dest]:
            parse_date(action[dest], flag(dest))


def _installed(kind: str) -> list[str]:
    from freezer_core import plugins

    try:
        return plugins.names(kind)
    except (ImportError, OSError, ValueError):  # a broken install must not hide the real message
        return []


def _engine_says(action: Action, attribute: str) -> bool:
    """A boolean class attribute of the action's engine (see :class:`~freezer_core.contract.Engine`).

    An engine that cannot be loaded keeps the contract's default, True, so the file rules
    still apply; running the action then reports the missing plugin.
    """
    from freezer_core import plugins

    try:
        return bool(getattr(plugins.load_class("engine", action.engine_name), attribute))
    except (FreezerError, RuntimeError):  # not installed, or broken: reported when the action runs
        return True


# ---------------------------------------------------------------- combinations


def _check_levels(action: Action) -> None:
    used = [d for d in LEVEL_OPTIONS if action[d]]
    if action.incremental and action.no_incremental:
        raise ValidationError("--incremental contradicts --no-incremental true: keep only one of them")
    if used and action.no_incremental:
        raise ValidationError(f"{flag(used[0])} cannot be used with --no-incremental true: "
                              f"levels need incremental backups; drop one of them")
    if used and not action.is_incremental():
        raise ValidationError(f"{flag(used[0])} needs --incremental: add --incremental "
                              f"(without it every backup is level 0)")


def _check_mode_engine(action: Action) -> None:
    if action.action not in ("backup", "restore", "admin"):
        return
    engine = ENGINE_MODES.get(action.mode)
    if engine and action.engine_name != engine:
        raise ValidationError(f"--mode {action.mode} needs --engine {engine} (got "
                              f"--engine {action.engine_name}): add --engine {engine}")


def _check_backup(action: Action) -> None:
    mode = action.mode
    if mode == "nova":
        _needs_incremental_off(action, "nova")
        _needs_one(action, ("nova_inst_id", "nova_inst_name", "project_id"), "--mode nova")
    elif mode == "glance":
        _needs_incremental_off(action, "glance")
        _needs_one(action, ("glance_image_id", "glance_image_name", "project_id"), "--mode glance")
    elif mode == "cinder":
        _needs_one(action, ("cinder_vol_id", "cinder_vol_name"), "--mode cinder")
    elif mode == "cindernative":
        _needs_one(action, ("cindernative_vol_id", "cindernative_backup_id"), "--mode cindernative")
    elif mode == "cinderbrick":
        _needs_one(action, ("cinderbrick_vol_id",), "--mode cinderbrick")
    elif mode in FILE_MODES and action.backup_media() == "fs" and _engine_says(action, "reads_path"):
        path = action.path_to_backup
        if not path:
            raise ValidationError(f"--path-to-backup is required for --mode {mode} backups: "
                                  f"give the directory or file to back up")
        if _missing(path):
            raise ValidationError(f"--path-to-backup: {path} does not exist; check the path")


def _missing(path: str) -> bool:
    """True only when nothing is there; a path we may not look at is the mode's to report."""
    try:
        os.stat(os.path.expanduser(path))
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def _needs_incremental_off(action: Action, mode: str) -> None:
    if action.is_incremental():
        raise ValidationError(f"--mode {mode} backups cannot be incremental: drop --incremental "
                              f"(or use --no-incremental true)")


def _needs_one(action: Action, dests: tuple[str, ...], what: str) -> None:
    if not any(action[d] for d in dests):
        names = [flag(d) for d in dests]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        raise ValidationError(f"{what} needs {listed}: say what to back up")


def _check_restore(action: Action) -> None:
    targets = (*RESTORE_TARGETS, "nova_inst_name", "cinder_vol_name", "cindernative_backup_id",
               "glance_image_id", "glance_image_name")
    if not _engine_says(action, "writes_path"):
        return  # the engine restores into a server (e.g. the one at --mongodb-uri)
    if not any(action[d] for d in targets):
        raise ValidationError("--action restore needs a target: --restore-abs-path (files), "
                              "--nova-inst-id, --cinder-vol-id, --cindernative-vol-id, "
                              "--cinderbrick-vol-id or --project-id")


def _check_admin(action: Action) -> None:
    _check_removal_count(action, required=True)


def _check_removal_count(action: Action, *, required: bool) -> None:
    given = [d for d in REMOVAL_OPTIONS if _is_set(action[d])]
    if required and not given:
        raise ValidationError("--action admin needs one of --remove-older-than, --remove-before-date "
                              "or --remove-from-date: say which backups to remove")
    if len(given) > 1:
        raise ValidationError(f"{flag(given[0])} and {flag(given[1])} both say what to remove: "
                              f"give only one of them")


def _is_set(value: Any) -> bool:
    return value is not None and value != ""


def _check_exec(action: Action) -> None:
    if not action.command or not str(action.command).strip():
        raise ValidationError("--action exec needs --command: give the command to run")


def _check_storage(action: Action) -> None:
    if action.storage == "ssh" and not action.ssh_host:
        raise ValidationError("--storage ssh needs --ssh-host: give the host that holds the backups")
    if action.storage in ("ftp", "ftps") and not action.ftp_host:
        raise ValidationError(f"--storage {action.storage} needs --ftp-host: give the FTP server")
    if not action.container:
        raise ValidationError("--container is empty: give a container, bucket or directory")
