"""The documents Freezer reads and writes: actions, jobs, backups, clients, sessions.

They mirror upstream Freezer's JSON documents (``freezer_action``, job, backup,
client and session) so that job files, API bodies and scheduler state can be
read, edited and written back without losing anything: keys we do not know
(a plugin's own options, API bookkeeping such as ``action_id``) are kept in
``extra`` and written back as they came.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar

from freezer_core.errors import ValidationError
from freezer_core.options import BY_DEST, OPTIONS, Option, coerce, mask, normalize_key

_HOSTNAME = BY_DEST["hostname"]
_ABSENT = object()
PLACEHOLDERS = ("mode", "backup_media", "storage", "container", "project_id", "resource_id")


@dataclass(frozen=True, eq=False, repr=False)
class Action(Mapping[str, Any]):
    """One agent action: every option of :data:`freezer_core.options.OPTIONS` as a field.

    It is also a read-only mapping over its options (and ``extra`` keys), which
    is how plugins receive it.  Values are coerced to the option types on
    construction, so ``Action.from_dict({"no_incremental": "true"})`` holds a
    real ``True``; ``to_dict()`` still gives back the document it was read from.
    """

    action: str = "backup"
    mode: str = "fs"
    engine_name: str = "tar"
    path_to_backup: str | None = None
    backup_name: str = "freezer_{mode}_{resource_id}"
    container: str = "freezer_backups"
    storage: str = "swift"
    hostname: str = field(default_factory=_HOSTNAME.default_value)
    config: str | None = None
    dry_run: bool = False
    insecure: bool = False
    proxy: str | None = None
    max_priority: bool = False
    timeout: int = 120
    temp_resource_prefix: str = "freezer_"
    os_identity_api_version: str | None = None
    os_trust_id: str | None = None
    project_id: str | None = None
    incremental: bool = False
    no_incremental: bool | None = None
    max_level: int | None = None
    always_level: int | None = None
    restart_always_level: float | None = None
    compression: str = "gzip"
    encrypt_pass_file: str | None = None
    encrypt_format: str = "freezer"
    exclude: str | None = None
    dereference_symlink: str | None = None
    max_segment_size: int = 8388608
    rsync_block_size: int = 4096
    consistency_check: bool = False
    consistency_checksum: str | None = None
    sync: bool = True
    upload_limit: int = -1
    download_limit: int = -1
    restore_abs_path: str | None = None
    overwrite: bool = False
    restore_from_date: str | None = None
    remove_older_than: float | None = None
    remove_before_date: str | None = None
    remove_from_date: str | None = None
    fullbackup_rotation: int = 1
    backup_id: str | None = None
    snapshot: bool = False
    lvm_srcvol: str | None = None
    lvm_snapname: str | None = None
    lvm_snap_perm: str = "ro"
    lvm_snapsize: str = "1G"
    lvm_dirmount: str | None = None
    lvm_volgroup: str | None = None
    mysql_conf: str | None = None
    mysql_strategy: str | None = None
    sql_server_conf: str | None = None
    mongodb_uri: str | None = None
    mongodb_node: str = "primary"
    command: str | None = None
    nova_inst_id: str | None = None
    nova_inst_name: str | None = None
    nova_restore_network: str | None = None
    cinder_vol_id: str | None = None
    cinder_vol_name: str | None = None
    cinderbrick_vol_id: str | None = None
    cindernative_vol_id: str | None = None
    cindernative_backup_id: str | None = None
    cindernative_backup_az: str | None = None
    cindernative_backup_container: str | None = None
    cindernative_freezer_only: bool = True
    glance_image_id: str | None = None
    glance_image_name: str | None = None
    glance_image_name_filter: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    endpoint: str | None = None
    ssh_key: str = "~/.ssh/id_rsa"
    ssh_password: str | None = None
    ssh_username: str | None = None
    ssh_host: str | None = None
    ssh_port: int = 22
    ssh_known_hosts: str = "~/.ssh/known_hosts"
    osrc: str | None = None
    swift_slo: bool = False
    region: str | None = None
    ftp_username: str | None = None
    ftp_password: str | None = None
    ftp_host: str | None = None
    ftp_port: int = 21
    ftp_keyfile: str | None = None
    ftp_certfile: str | None = None
    metadata_out: str | None = None
    quiet: bool = False
    log_file: str | None = None
    debug: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    """Keys that are not agent options (a plugin's own options), as given."""
    _given: frozenset[str] = field(default=frozenset(), init=False)
    _raw: dict[str, Any] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for opt in OPTIONS:
            value = getattr(self, opt.dest)
            coerced = coerce(opt, value)
            if coerced is not value:
                object.__setattr__(self, opt.dest, coerced)
        for key in self.extra:
            if normalize_key(key) in BY_DEST:
                raise ValidationError(f"extra option {key!r} names a real option: pass it as "
                                      f"{normalize_key(key)}=... instead")
        given = frozenset(o.dest for o in OPTIONS if getattr(self, o.dest) != o.default_value())
        object.__setattr__(self, "_given", given)

    # ------------------------------------------------------------ documents

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Action:
        """Read a ``freezer_action`` document (or config options).

        Keys may use dashes (``backup-name``) or aliases (``engine``); unknown
        keys go to ``extra``.  Types are coerced (``"true"``, ``"10M"``, ...).

        :raises ValidationError: a value that does not fit its option.
        """
        if not isinstance(data, Mapping):
            raise ValidationError(f"freezer_action must be a JSON object, not {type(data).__name__}")
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            dest = normalize_key(str(key))
            if dest in BY_DEST:
                values[dest] = value
            else:
                extra[key] = value
        action = cls(**values, extra=extra)
        object.__setattr__(action, "_given", action._given | frozenset(values))
        object.__setattr__(action, "_raw", dict(values))
        return action

    @classmethod
    def of(cls, value: Action | Mapping[str, Any]) -> Action:
        """An Action from an Action (returned as is) or from a plain mapping."""
        return value if isinstance(value, Action) else cls.from_dict(value)

    def to_dict(self, *, full: bool = False) -> dict[str, Any]:
        """The ``freezer_action`` document.

        By default only the options that were given (or differ from their
        default) are written, each as it was read when unchanged, so an upstream
        document comes back equal.  ``full=True`` writes every option.
        """
        out: dict[str, Any] = {}
        for opt in OPTIONS:
            if not full and opt.dest not in self._given:
                continue
            value = getattr(self, opt.dest)
            raw = self._raw.get(opt.dest, _ABSENT)
            out[opt.dest] = raw if raw is not _ABSENT and _same(opt, raw, value) else value
        out.update(self.extra)
        return out

    def given(self) -> frozenset[str]:
        """Dests that were set explicitly (or differ from their default)."""
        return self._given

    def replace(self, **changes: Any) -> Action:
        """A copy with some options changed (keys as in :meth:`from_dict`)."""
        doc = self.to_dict()
        for key, value in changes.items():
            dest = normalize_key(key)
            doc.pop(dest, None)
            doc[dest if dest in BY_DEST else key] = value
        return Action.from_dict(doc)

    def masked(self) -> dict[str, Any]:
        """The given options with secrets masked: what may be logged."""
        return {k: mask(k, v) for k, v in self.to_dict().items()}

    # ------------------------------------------------------------ mapping

    def __getitem__(self, key: str) -> Any:
        dest = normalize_key(key)
        if dest in BY_DEST:
            return getattr(self, dest)
        if key in self.extra:
            return self.extra[key]
        for other in self.extra:
            if normalize_key(other) == dest:
                return self.extra[other]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        yield from BY_DEST
        yield from self.extra

    def __len__(self) -> int:
        return len(BY_DEST) + len(self.extra)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Action):
            return self._values() == other._values()
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def _values(self) -> tuple[Any, ...]:
        return (*(getattr(self, o.dest) for o in OPTIONS), self.extra)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={mask(k, getattr(self, k))!r}" for k in BY_DEST if k in self._given)
        if self.extra:
            extra = {k: mask(k, v) for k, v in self.extra.items()}
            shown += (", " if shown else "") + f"extra={extra!r}"
        return f"Action({shown})"

    # ------------------------------------------------------------ helpers

    @property
    def storages(self) -> list[dict[str, Any]]:
        """The ``[storage:NAME]`` sections of a ``--config`` file (multi-storage), or ``[]``."""
        value = self.extra.get("storages")
        return list(value) if isinstance(value, list) else []

    def is_incremental(self) -> bool:
        """True with ``--incremental``, or with the legacy ``--no-incremental false``."""
        return bool(self.incremental) or self.no_incremental is False

    def backup_media(self) -> str:
        """What is backed up, inferred from the options as upstream does."""
        if self.cinder_vol_id or self.cinder_vol_name:
            return "cinder"
        if self.cindernative_vol_id or self.cindernative_backup_id:
            return "cindernative"
        if self.engine_name == "nova" and (self.project_id or self.nova_inst_id or self.nova_inst_name):
            return "nova"
        if self.engine_name == "glance" and (self.project_id or self.glance_image_id
                                             or self.glance_image_name):
            return "glance"
        if self.cinderbrick_vol_id:
            return "cinderbrick"
        return "fs"

    def resource_id(self) -> str:
        """The id a backup name's ``{resource_id}`` stands for: volume, instance, image or host."""
        candidates = {
            "cinder": (self.cinder_vol_id, self.cinder_vol_name),
            "cindernative": (self.cindernative_vol_id, self.cindernative_backup_id),
            "nova": (self.nova_inst_id, self.nova_inst_name, self.project_id),
            "glance": (self.glance_image_id, self.glance_image_name, self.project_id),
            "cinderbrick": (self.cinderbrick_vol_id,),
        }.get(self.backup_media(), (self.hostname,))
        return next((str(c) for c in candidates if c), "")

    def resolved_backup_name(self) -> str:
        """The backup name with its placeholders filled in.

        Upstream builds storage paths from the unformatted template (so paths hold
        a literal ``{resource_id}``); Freezer formats it first.

        :raises ValidationError: an unknown placeholder or stray brace.
        """
        template = self.backup_name
        values = {"mode": self.mode, "backup_media": self.backup_media(), "storage": self.storage,
                  "container": self.container, "project_id": self.project_id or "",
                  "resource_id": self.resource_id()}
        try:
            names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
        except ValueError:
            raise ValidationError(f"--backup-name: {template!r} has an unmatched brace; "
                                  f"write {{{{ and }}}} for literal braces") from None
        for name in names:
            if name not in values:
                raise ValidationError(f"--backup-name: unknown placeholder {{{name}}}; use one of "
                                      + ", ".join("{" + p + "}" for p in PLACEHOLDERS))
        return template.format_map(values)

    def hostname_backup_name(self) -> str:
        """The storage key of the chain: ``<hostname>_<resolved backup name>``."""
        return f"{self.hostname}_{self.resolved_backup_name()}"


def _check_fields_match_options() -> None:
    """Fail at import, with the fix, when the options table and Action's fields drift apart."""
    names = [f.name for f in fields(Action) if f.init and f.name != "extra"]
    table = [o.dest for o in OPTIONS]
    if names != table:
        missing = [d for d in table if d not in names]
        raise ImportError(f"freezer_core.models.Action must declare one field per option of "
                          f"freezer_core.options.OPTIONS, in the same order; missing: {missing or 'none'}, "
                          f"extra or misplaced: {[n for n in names if n not in table] or 'order differs'}")


_check_fields_match_options()


def _same(opt: Option, raw: Any, value: Any) -> bool:
    try:
        return bool(coerce(opt, raw) == value)
    except ValidationError:
        return False


# ---------------------------------------------------------------- API documents


@dataclass
class _Record:
    """Shared document plumbing: known keys as fields, unknown ones kept in ``extra``.

    A key that was present in the input is written back even when it holds the
    default (``null`` included), so documents round-trip unchanged.
    """

    ALIASES: ClassVar[dict[str, str]] = {}

    @classmethod
    def _field_names(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.init and f.name != "extra"]

    @classmethod
    def _decode(cls, name: str, value: Any) -> Any:
        return value

    def _encode(self, name: str, value: Any) -> Any:
        return value

    @classmethod
    def _read(cls, data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        if not isinstance(data, Mapping):
            raise ValidationError(f"{cls.__name__.lower()} document must be a JSON object, "
                                  f"not {type(data).__name__}")
        known = set(cls._field_names())
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            name = cls.ALIASES.get(key, str(key).replace("-", "_"))
            if name in known:
                values[name] = cls._decode(name, value)
            else:
                extra[key] = value
        return values, extra

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        values, extra = cls._read(data)
        obj = cls(**values, extra=extra)  # type: ignore[call-arg]
        obj._present = frozenset(values)  # type: ignore[attr-defined]
        return obj

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        present: frozenset[str] = getattr(self, "_present", frozenset())
        for f in fields(self):
            if not f.init or f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name in present or value != _default_of(f):
                out[f.name] = self._encode(f.name, value)
        out.update(getattr(self, "extra", {}))
        return out


def _default_of(f: Any) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return _ABSENT


@dataclass
class JobAction(_Record):
    """One entry of a job's ``job_actions``: the agent options plus retry policy."""

    freezer_action: Action = field(default_factory=Action)
    max_retries: int | None = None
    max_retries_interval: int | None = None
    mandatory: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """``action_id``, ``exit_status``, ``user_id``... kept as given."""
    _present: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    @classmethod
    def _decode(cls, name: str, value: Any) -> Any:
        return Action.from_dict(value or {}) if name == "freezer_action" else value

    def _encode(self, name: str, value: Any) -> Any:
        return value.to_dict() if name == "freezer_action" else value


SCHEDULE_TRIGGERS = ("schedule_date", "schedule_interval", "schedule_start_date", "schedule_end_date",
                     "schedule_year", "schedule_month", "schedule_day", "schedule_week",
                     "schedule_day_of_week", "schedule_hour", "schedule_minute", "schedule_second")


@dataclass
class Job(_Record):
    """A job: ordered actions for one client, with a schedule.

    Reads the job files people actually write: ``"job-action"`` for
    ``job_actions``, dashed keys, ``""`` for a date that is not set, and an
    empty ``job_schedule`` for a one-off run.
    """

    ALIASES: ClassVar[dict[str, str]] = {"job-action": "job_actions", "job_action": "job_actions",
                                         "job-actions": "job_actions"}

    job_id: str | None = None
    client_id: str | None = None
    project_id: str | None = None
    user_id: str | None = None
    description: str | None = None
    session_id: str | None = None
    session_tag: int | None = None
    session_name: str | None = None
    job_actions: list[JobAction] = field(default_factory=list)
    job_schedule: dict[str, Any] = field(default_factory=dict)
    action_defaults: dict[str, Any] | None = None
    user_credentials: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    _present: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    @classmethod
    def _decode(cls, name: str, value: Any) -> Any:
        if name == "job_actions":
            if not isinstance(value, list):
                raise ValidationError("job_actions must be a list of actions")
            return [JobAction.from_dict(a) for a in value]
        if name == "job_schedule":
            if value is None:
                return {}
            if not isinstance(value, Mapping):
                raise ValidationError("job_schedule must be a JSON object")
            return {str(k).replace("-", "_"): v for k, v in value.items()}
        return value

    def _encode(self, name: str, value: Any) -> Any:
        if name == "job_actions":
            return [a.to_dict() for a in value]
        if name == "job_schedule":
            return dict(value)
        return value

    def schedule(self) -> dict[str, Any]:
        """``job_schedule`` without unset values (``""`` and ``null`` mean not set)."""
        return {k: v for k, v in self.job_schedule.items() if v not in ("", None)}

    def is_one_off(self) -> bool:
        """True when no trigger is set: the job runs once, right away."""
        return not any(k in SCHEDULE_TRIGGERS for k in self.schedule())

    def actions(self) -> list[Action]:
        """Each action's options, with ``action_defaults`` filling the keys it lacks."""
        defaults = self.action_defaults or {}
        out = []
        for job_action in self.job_actions:
            doc = job_action.freezer_action.to_dict()
            given = {normalize_key(k) for k in doc}
            merged = {k: v for k, v in defaults.items() if normalize_key(k) not in given}
            out.append(Action.from_dict({**merged, **doc}))
        return out


@dataclass
class BackupRecord(_Record):
    """A backup as the API stores it: ids, status and the agent's free-form result."""

    backup_id: str | None = None
    user_id: str | None = None
    project_id: str | None = None
    status: str | None = None
    backup_metadata: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    _present: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    STATUSES: ClassVar[tuple[str, ...]] = ("creating", "available", "error", "deleting", "deleted")

    @property
    def time_stamp(self) -> int | None:
        """The backup's epoch seconds (clients sort by it)."""
        value = self.backup_metadata.get("time_stamp")
        return int(value) if isinstance(value, int | float | str) and str(value).isdigit() else None


@dataclass
class Client(_Record):
    """A registered client (a host running the scheduler).

    The API wraps the client's fields in ``{"client": {...}, "user_id", "project_id"}``;
    registration bodies are flat.  Both are read; the shape read is the shape written.
    """

    client_id: str | None = None
    hostname: str | None = None
    description: str | None = None
    uuid: str | None = None
    supported_actions: list[str] | None = None
    supported_modes: list[str] | None = None
    supported_storages: list[str] | None = None
    supported_engines: list[str] | None = None
    is_central: bool | None = None
    user_id: str | None = None
    project_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    client_extra: dict[str, Any] = field(default_factory=dict)
    """Unknown keys inside the ``client`` object."""
    wrapped: bool = True
    _present: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    _OUTER: ClassVar[tuple[str, ...]] = ("user_id", "project_id")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Client:
        if isinstance(data, Mapping) and isinstance(data.get("client"), Mapping):
            outer = {k: v for k, v in data.items() if k != "client"}
            inner_values, inner_extra = cls._read(data["client"])
            outer_values, outer_extra = cls._read(outer)
            inner_values = {k: v for k, v in inner_values.items() if k not in cls._OUTER}
            client = cls(**inner_values, **{k: v for k, v in outer_values.items() if k in cls._OUTER},
                         extra={**outer_extra, **{k: v for k, v in outer_values.items()
                                                  if k not in cls._OUTER}},
                         client_extra=inner_extra, wrapped=True)
            client._present = frozenset(inner_values) | frozenset(k for k in outer_values
                                                                  if k in cls._OUTER)
            return client
        values, extra = cls._read(data)
        values.pop("wrapped", None)
        values.pop("client_extra", None)
        client = cls(**values, extra=extra, wrapped=False)
        client._present = frozenset(values)
        return client

    def to_dict(self) -> dict[str, Any]:
        flat = super().to_dict()
        flat.pop("wrapped", None)
        flat.pop("client_extra", None)
        if not self.wrapped:
            return flat | self.client_extra
        inner = {k: v for k, v in flat.items() if k in self._inner_names()} | self.client_extra
        outer = {k: v for k, v in flat.items() if k in self._OUTER}
        return {"client": inner, **outer, **self.extra}

    @classmethod
    def _inner_names(cls) -> set[str]:
        return set(cls._field_names()) - set(cls._OUTER) - {"client_extra", "wrapped"}


@dataclass
class Session(_Record):
    """A session: jobs on several nodes that start together (see the API's session states)."""

    session_id: str | None = None
    session_tag: int | None = None
    description: str | None = None
    hold_off: int | None = None
    schedule: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, Any] | list[Any] = field(default_factory=dict)
    status: str | None = None
    result: str | None = None
    time_start: int | None = None
    time_end: int | None = None
    time_started: int | None = None
    time_ended: int | None = None
    user_id: str | None = None
    project_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    _present: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)
