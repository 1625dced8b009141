"""The catalog of backups kept on a storage: which exist, which level comes next, what to restore or remove.

The layout is upstream Freezer's, so both agents read each other's backups::

    data/<engine>/<prefix>/<L0_ts>/<level>_<ts>/data              payload (or segments/%08d)
    data/<engine>/<prefix>/<L0_ts>/<level>_<ts>/engine_metadata   engine state for the next level
    metadata/<engine>/<prefix>/<L0_ts>/<level>_<ts>/metadata      JSON, written last

``prefix`` is ``<hostname>_<backup_name>`` (nova and glance add ``/<resource_id>``), timestamps are
integer epoch seconds.  The ``metadata`` object is the commit record: a backup exists only once it
is there, so an interrupted run leaves nothing a restore or the level planner would pick.

The rules are upstream's with its defects fixed (see docs/levels-and-retention.md): restart is
counted from level 0, retention never deletes anything newer than the cutoff, a missing level is an
:class:`IntegrityError` instead of a ``KeyError``, listings are sorted, and two backups within one
second never share a name.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from freezer_core.contract import Storage
from freezer_core.errors import BackupNotFound, IntegrityError, ValidationError

log = logging.getLogger(__name__)

DAY = 86400
_NUMBER = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_ENTRY = re.compile(r"(0|[1-9][0-9]*)_(0|[1-9][0-9]*)\Z")
_METADATA_NAME = re.compile(
    r"metadata/(?P<engine>[^/]+)/(?P<prefix>.+)/(?P<l0>0|[1-9][0-9]*)/"
    r"(?P<level>0|[1-9][0-9]*)_(?P<ts>0|[1-9][0-9]*)/metadata\Z"
)


def _number(name: str) -> int | None:
    """A canonical non-negative integer, else None: ``"007"`` would not map back to its own name."""
    return int(name) if _NUMBER.match(name) else None


def _entry(name: str) -> tuple[int, int] | None:
    """``"<level>_<ts>"`` as (level, ts), or None for anything else found in the tree."""
    m = _ENTRY.match(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


@dataclass(frozen=True, order=True)
class BackupRef:
    """One backup level, by name only; ordering is (engine, prefix, L0, level, ts)."""

    engine: str
    prefix: str
    level0_ts: int
    level: int
    ts: int

    @property
    def data_dir(self) -> str:
        return f"data/{self.engine}/{self.prefix}/{self.level0_ts}/{self.level}_{self.ts}"

    @property
    def metadata_dir(self) -> str:
        return f"metadata/{self.engine}/{self.prefix}/{self.level0_ts}/{self.level}_{self.ts}"

    @property
    def data_name(self) -> str:
        return f"{self.data_dir}/data"

    @property
    def engine_metadata_name(self) -> str:
        return f"{self.data_dir}/engine_metadata"

    @property
    def metadata_name(self) -> str:
        return f"{self.metadata_dir}/metadata"

    @classmethod
    def from_metadata_name(cls, name: str) -> BackupRef | None:
        """Parse a ``metadata/...`` object name; None for names outside the layout."""
        m = _METADATA_NAME.match(name)
        if not m or ".." in m["prefix"].split("/"):
            return None
        ref = cls(m["engine"], m["prefix"], int(m["l0"]), int(m["level"]), int(m["ts"]))
        return ref if _plausible(ref.level0_ts, ref.level, ref.ts) else None


def _plausible(level0_ts: int, level: int, ts: int) -> bool:
    """Level 0 carries its chain's timestamp and increments come after it; anything else is foreign."""
    return ts == level0_ts if level == 0 else ts > level0_ts


@dataclass
class Chain:
    """A level 0 and its increments (complete backups only), sorted by level then ts."""

    level0_ts: int
    backups: list[BackupRef] = field(default_factory=list)

    @property
    def newest_ts(self) -> int:
        return max((b.ts for b in self.backups), default=self.level0_ts)

    def tip(self, date: int | None = None) -> list[BackupRef]:
        """The contiguous levels 0..n to apply for the state at ``date`` (None: the newest).

        Duplicate levels (differential backups, see ``always_level``) resolve to the newest one at
        or before ``date`` that is newer than the level chosen below it, so the choice never
        depends on listing order.  A level missing under a higher one is an IntegrityError.
        """
        usable = [b for b in self.backups if date is None or b.ts <= date]
        chosen: list[BackupRef] = []
        top = max((b.level for b in usable), default=-1)
        for level in range(top + 1):
            after = chosen[-1].ts if chosen else -1
            at_level = [b for b in usable if b.level == level]
            candidates = [b for b in at_level if b.ts > after]
            if not candidates:
                if at_level:  # only increments made before the level below: the state ends there
                    break
                prefix = usable[0].prefix
                raise IntegrityError(
                    f"backup chain {prefix}/{self.level0_ts} has no level {level} but has level {top}: "
                    f"it cannot be restored; pick another --restore-from-date or remove the chain"
                )
            chosen.append(max(candidates, key=lambda b: b.ts))
        if not chosen and self.backups:
            raise IntegrityError(
                f"backup chain {self.backups[0].prefix}/{self.level0_ts} has no level 0: it cannot be "
                f"restored; pick another --restore-from-date or remove the chain"
            )
        return chosen


@dataclass(frozen=True)
class LevelPolicy:
    """The level options; 0 means "not set" for each, as upstream's defaults do."""

    incremental: bool = False
    max_level: int | None = None
    always_level: int | None = None
    restart_always_level: float | None = None
    """Days after the chain's level 0 at which a new chain is started."""

    def __post_init__(self) -> None:
        for name in ("max_level", "always_level", "restart_always_level"):
            value = getattr(self, name)
            if value is not None and (value < 0 or not math.isfinite(value)):
                raise ValidationError(f"--{name.replace('_', '-')} must be 0 or more, not {value}")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> LevelPolicy:
        """Build from action options (upstream dests); missing or empty values mean "not set".

        The legacy ``--no-incremental false`` spelling also turns incremental backups on; an
        :class:`~freezer_core.models.Action` decides that itself through ``is_incremental()``.
        """
        decide = getattr(options, "is_incremental", None)
        if callable(decide):
            incremental = bool(decide())
        else:
            incremental = bool(options.get("incremental")) or options.get("no_incremental") is False
        return cls(
            incremental=incremental,
            max_level=int(options["max_level"]) if options.get("max_level") else None,
            always_level=int(options["always_level"]) if options.get("always_level") else None,
            restart_always_level=(
                float(options["restart_always_level"]) if options.get("restart_always_level") else None
            ),
        )


class Catalog:
    """The backups of one ``<engine>/<prefix>`` on one storage."""

    def __init__(self, storage: Storage, engine: str, prefix: str) -> None:
        if not engine or "/" in engine or engine in (".", ".."):
            raise ValidationError(f"invalid engine name {engine!r}")
        parts = prefix.split("/")
        if not prefix or any(p in ("", ".", "..") for p in parts):
            raise ValidationError(f"invalid backup name {prefix!r}: it must not be empty or contain '..'")
        self.storage = storage
        self.engine = engine
        self.prefix = prefix

    @property
    def _metadata_root(self) -> str:
        return f"metadata/{self.engine}/{self.prefix}"

    @property
    def _data_root(self) -> str:
        return f"data/{self.engine}/{self.prefix}"

    # ------------------------------------------------------------ listing

    def backups(self) -> list[BackupRef]:
        """Every complete backup, sorted by (L0, level, ts).

        One ``walk`` of the small metadata tree instead of a ``size`` call per backup: a listing
        is a single request on object stores.  Names outside the layout are ignored.
        """
        root = self._metadata_root + "/"
        found = []
        for info in self.storage.walk(self._metadata_root):
            if not info.name.startswith(root):
                continue
            parts = info.name[len(root) :].split("/")
            if len(parts) != 3 or parts[2] != "metadata":
                continue
            l0, entry = _number(parts[0]), _entry(parts[1])
            if l0 is None or entry is None or not _plausible(l0, *entry):
                continue
            found.append(BackupRef(self.engine, self.prefix, l0, entry[0], entry[1]))
        return sorted(found)

    def chains(self) -> list[Chain]:
        """Chains holding at least one complete backup, sorted by their level 0 timestamp."""
        by_l0: dict[int, Chain] = {}
        for ref in self.backups():
            by_l0.setdefault(ref.level0_ts, Chain(ref.level0_ts)).backups.append(ref)
        for chain in by_l0.values():
            chain.backups.sort(key=lambda b: (b.level, b.ts))
        return [by_l0[k] for k in sorted(by_l0)]

    def _data_timestamps(self, level0_ts: int | None = None) -> list[int]:
        """Timestamps named in the data tree, complete or not (all chains, or one)."""
        roots = (
            [level0_ts]
            if level0_ts is not None
            else [n for n in map(_number, self.storage.list(self._data_root)) if n is not None]
        )
        stamps = list(roots)
        for l0 in roots:
            for name in self.storage.list(f"{self._data_root}/{l0}"):
                entry = _entry(name)
                if entry is not None:
                    stamps.append(entry[1])
        return stamps

    def newest_ts(self) -> int | None:
        """The newest timestamp used by this prefix, including interrupted backups' data."""
        stamps = self._data_timestamps() + [b.ts for b in self.backups()]
        return max(stamps, default=None)

    # ------------------------------------------------------------ backup

    def plan_backup(self, policy: LevelPolicy, now: int) -> tuple[int, BackupRef | None]:
        """The level of the next backup and its parent (None: start a new chain at level 0)."""
        level, lineage = self.plan_backup_lineage(policy, now)
        return level, lineage[-1] if lineage else None

    def plan_backup_lineage(self, policy: LevelPolicy, now: int) -> tuple[int, list[BackupRef]]:
        """The level of the next backup and the levels it is made on: 0 up to its parent ([]: a new chain).

        An engine with ``chain_state`` reads the state of each of them, not only the parent's.
        """
        if not policy.incremental:
            return 0, []
        chains = self.chains()
        if not chains:
            return 0, []
        newest = chains[-1]
        try:
            tip = newest.tip()
        except IntegrityError as exc:
            log.warning("starting a new chain: %s", exc)
            return 0, []
        if not tip:
            return 0, []
        highest = tip[-1].level
        if policy.max_level and policy.max_level <= highest:
            return 0, []
        if policy.always_level and policy.always_level < highest:
            return 0, []
        if policy.restart_always_level and now > newest.level0_ts + policy.restart_always_level * DAY:
            return 0, []
        if policy.always_level and highest == policy.always_level:
            tip = tip[: policy.always_level]
        return tip[-1].level + 1, tip

    def new_ref(self, level: int, parent: BackupRef | None, now: int) -> BackupRef:
        """Name the next backup; its ts is ``now``, or one past the newest ts so names never collide."""
        newest = self.newest_ts()
        ts = now if newest is None or now > newest else newest + 1
        if parent is None:
            if level != 0:
                raise ValueError(f"level {level} needs a parent")
            return BackupRef(self.engine, self.prefix, ts, 0, ts)
        if level != parent.level + 1 or (parent.engine, parent.prefix) != (self.engine, self.prefix):
            raise ValueError(f"level {level} cannot follow {parent}")
        return BackupRef(self.engine, self.prefix, parent.level0_ts, level, ts)

    def read_metadata(self, ref: BackupRef) -> dict[str, Any]:
        """The backup's ``metadata`` JSON (engine_name, compression, encryption, ...)."""
        raw = self.storage.get(ref.metadata_name)
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            value = None
        if not isinstance(value, dict):
            raise IntegrityError(f"{ref.metadata_name} is not a JSON object: the backup metadata is damaged")
        return value

    # ------------------------------------------------------------ restore

    def restore_chain(self, date: int | None = None) -> list[BackupRef]:
        """The levels to apply, 0 first, for the state at ``date`` (None: the newest backup).

        The newest chain whose level 0 is at or before ``date`` is used, with its increments at or
        before ``date``.  An older chain is never used silently when that one is damaged.
        """
        chains = [c for c in self.chains() if date is None or c.level0_ts <= date]
        if not chains:
            where = (
                f"at or before {format_date(date)}" if date is not None else f"in {self.storage.describe()}"
            )
            raise BackupNotFound(
                f"no backup of {self.prefix} ({self.engine}) {where}: "
                f"list the backups with `freezer-agent --action info`"
            )
        return chains[-1].tip(date)

    # ------------------------------------------------------------ retention

    def removable(self, cutoff: int) -> list[Chain]:
        """Chains in which every backup is older than ``cutoff`` (ts < cutoff).

        A chain with anything at or after the cutoff is kept whole, its level 0 included, so a
        kept backup always stays restorable.  Data of an unfinished backup counts too: it may be
        a run still in progress.
        """
        result = []
        for chain in self.chains():
            if chain.newest_ts >= cutoff:
                continue
            if max(self._data_timestamps(chain.level0_ts)) >= cutoff:
                continue
            result.append(chain)
        return result

    def remove_backup(self, ref: BackupRef) -> None:
        """Delete one level (the top of its chain), metadata first; the levels below stay restorable."""
        self.storage.delete(ref.metadata_dir)
        self.storage.delete(ref.data_dir)

    def remove(self, chain: Chain) -> None:
        """Delete a chain: metadata first, so an interrupted removal leaves nothing restorable."""
        self.storage.delete(f"{self._metadata_root}/{chain.level0_ts}")
        self.storage.delete(f"{self._data_root}/{chain.level0_ts}")


def list_backup_names(storage: Storage) -> list[tuple[str, str]]:
    """Every (engine, prefix) with at least one complete backup, sorted (for ``--action info``)."""
    names = set()
    for info in storage.walk("metadata"):
        ref = BackupRef.from_metadata_name(info.name)
        if ref is not None:
            names.add((ref.engine, ref.prefix))
    return sorted(names)


# ---------------------------------------------------------------- dates


def parse_date(value: str, option: str = "--restore-from-date") -> int:
    """ISO 8601 date or date-time to epoch seconds; a value without an offset is UTC.

    Accepts ``2024-05-01T10:00:00``, a space instead of ``T``, ``Z`` or ``+02:00`` offsets,
    fractions of a second (dropped: "at or before" rounds down) and a plain ``2024-05-01``
    (midnight UTC).  Naive means UTC as in upstream Freezer 19.0.0, so a date means the same on
    every node whatever its time zone.
    """
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return math.floor(parsed.timestamp())
    except (ValueError, OverflowError, AttributeError):
        raise ValidationError(
            f"{option} {value!r} is not a date: use YYYY-MM-DDThh:mm:ss (UTC unless it ends in Z "
            f"or an offset like +02:00) or YYYY-MM-DD"
        ) from None


def format_date(ts: int) -> str:
    """Epoch seconds as ``2024-05-01T10:00:00Z``, the form messages and ``info`` show."""
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):
        return f"@{ts}"  # outside what datetime can show; still names the moment exactly


def days_ago(days: float, now: int) -> int:
    """The cutoff ``days`` before ``now`` (for ``--remove-older-than``), rounded down."""
    if not math.isfinite(days) or days < 0:
        raise ValidationError(f"--remove-older-than must be a number of days, 0 or more, not {days}")
    return math.floor(now - days * DAY)
