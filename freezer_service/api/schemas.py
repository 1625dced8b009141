"""JSON schemas of the API documents, the same constraints as upstream Freezer's v2 API.

Validation errors answer 400 with the first line of the jsonschema message,
which is what clients and tests of the upstream API look for (for example
``Additional properties are not allowed ('foo' was unexpected)``).
"""

from __future__ import annotations

from typing import Any

import jsonschema

from freezer_core.errors import ValidationError

ACTIONS = ["backup", "restore", "info", "admin", "exec"]
MODES = ["fs", "mongo", "mysql", "sqlserver", "cinder", "glance", "cindernative", "nova", "null"]
STORAGES = ["local", "swift", "ssh", "s3", "ftp", "ftps"]
ENGINES = ["tar", "rsync", "rsyncv2", "nova", "osbrick", "glance"]
BACKUP_STATUSES = ["creating", "available", "error", "deleting", "deleted"]
CAPABILITIES = {"supported_actions": ACTIONS, "supported_modes": MODES,
                "supported_storages": STORAGES, "supported_engines": ENGINES}

_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?"
CLIENT_ID_PATTERN = rf"^(?:([\w\-]+)_)?{_LABEL}(?:\.{_LABEL})*\.?$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$"
INTERVAL_PATTERN = r"^(continuous|(\d+ +(weeks?|days?|hours?|minutes?|seconds?)))$"
DATE_KEYS = ("schedule_date", "schedule_start_date", "schedule_end_date")

_str_or_null = {"type": ["string", "null"]}
_int = {"type": "integer"}

SCHEDULE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "time_created": _int, "time_started": _int, "time_ended": _int, "current_pid": _int,
        "event": {"enum": ["", "stop", "start", "abort", "remove"]},
        "status": {"enum": ["", "completed", "stop", "scheduled", "running", "aborting", "removed"]},
        "result": {"enum": ["", "success", "fail", "aborted"]},
        **{key: {"type": "string", "pattern": DATE_PATTERN} for key in DATE_KEYS},
        "schedule_interval": {"type": "string", "pattern": INTERVAL_PATTERN},
        "schedule_year": {"type": "string", "pattern": r"^\d{4}$"},
        **{f"schedule_{k}": {"type": "string"}
           for k in ("month", "day", "week", "day_of_week", "hour", "minute", "second")},
    },
}

FREEZER_ACTION: dict[str, Any] = {
    "type": "object",
    "properties": {
        "action": {"enum": ACTIONS},
        "mode": _str_or_null, "path_to_backup": _str_or_null, "backup_name": _str_or_null,
        "container": _str_or_null, "restore_abs_path": _str_or_null,
        "cindernative_freezer_only": {"type": "boolean"},
    },
    "required": ["action"],
}

JOB_ACTION: dict[str, Any] = {
    "type": "object",
    "properties": {
        "freezer_action": FREEZER_ACTION,
        "max_retries": _int, "max_retries_interval": _int, "mandatory": {"type": "boolean"},
    },
    "required": ["freezer_action"],
}

JOB: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["job_actions", "job_schedule", "job_id", "client_id", "user_id"],
    "properties": {
        "job_id": {"type": "string", "minLength": 1},
        "client_id": {"type": "string", "pattern": CLIENT_ID_PATTERN},
        "user_id": {"type": "string"}, "project_id": {"type": "string"},
        "description": _str_or_null,
        "session_id": {"type": "string"}, "session_tag": _int, "session_name": _str_or_null,
        "_version": _int,
        "action_defaults": {"type": "object"},
        "user_credentials": {"type": "object", "properties": {"trust_id": _str_or_null,
                                                               "trustor_user_id": _str_or_null}},
        "job_actions": {"type": "array", "items": JOB_ACTION},
        "job_schedule": SCHEDULE,
    },
}

ACTION: dict[str, Any] = {
    "type": "object",
    "required": ["action_id", "user_id", "freezer_action"],
    "properties": {
        "action_id": {"type": "string", "minLength": 1}, "user_id": {"type": "string"},
        "freezer_action": {"type": "object"},
        "max_retries": {"type": ["integer", "null"]}, "max_retries_interval": {"type": ["integer", "null"]},
        "mandatory": {"type": ["boolean", "null"]},
    },
}

SESSION: dict[str, Any] = {
    "type": "object",
    "required": ["session_id", "session_tag", "user_id", "schedule"],
    "properties": {
        "session_id": {"type": "string"}, "session_tag": _int, "user_id": {"type": "string"},
        "description": _str_or_null, "hold_off": _int, "schedule": SCHEDULE,
        "jobs": {"type": ["object", "array"]},
        "status": {"type": ["string", "null"]}, "result": {"type": ["string", "null"]},
        **{k: {"type": ["integer", "null"]} for k in ("time_start", "time_end", "time_started", "time_ended")},
    },
}

CLIENT: dict[str, Any] = {
    "type": "object",
    "required": ["client_id"],
    "properties": {
        "client_id": {"type": "string", "pattern": CLIENT_ID_PATTERN},
        "hostname": _str_or_null, "description": _str_or_null, "uuid": _str_or_null,
        "is_central": {"type": "boolean"},
        **{key: {"type": "array", "items": {"type": "string"}} for key in CAPABILITIES},
    },
}


def validate(doc: Any, schema: dict[str, Any]) -> None:
    """Raise :class:`ValidationError` with the first line of the first schema violation."""
    validator = jsonschema.Draft7Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is not None:
        raise ValidationError(error.message.splitlines()[0])
