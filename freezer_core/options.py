"""The one table of freezer-agent options, and the value parsing every front end shares.

Upstream Freezer declares its options three times (oslo opts, ``DEFAULT_PARAMS``
and the API schema) and they drift.  Here each option is declared once: the
agent CLI, ``--config`` INI files, job documents (``freezer_action``) and the
API all derive names, short flags, defaults, types and choices from
:data:`OPTIONS`.  Names, dests, short flags and defaults are upstream's so that
existing scripts, cron lines and job files keep working.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from freezer_core.errors import ValidationError

OptionType = str
"""One of ``str``, ``int``, ``float``, ``bool``, ``choice``, ``size``, ``date``."""


@dataclass(frozen=True)
class Option:
    """One agent option: how it is spelled, typed, defaulted and documented."""

    dest: str
    flags: tuple[str, ...]
    type: OptionType = "str"
    default: Any = None
    help: str = ""
    short: str | None = None
    choices: tuple[str, ...] = ()
    open_choices: bool = False
    """Plugins may add names beyond ``choices`` (storages, engines, modes)."""
    negatable: bool = False
    """Has upstream's ``--noX`` form (oslo.config BoolOpt)."""
    takes_value: bool = False
    """A boolean that also accepts ``true``/``false`` after the flag (legacy spellings)."""
    secret: bool = False
    """Never logged, never shown: passwords and keys."""
    env: str | None = None
    """Environment variable used when neither the command line nor the file sets it."""
    group: str = "General"
    ours: bool = False
    """Freezer's own addition, absent from upstream freezer-agent."""
    default_factory: Callable[[], Any] | None = None
    default_doc: str | None = None
    """How the default is shown in docs when it is computed or resolved later."""

    @property
    def flag(self) -> str:
        """The canonical long flag, used in every message about this option."""
        return self.flags[0]

    @property
    def negations(self) -> tuple[str, ...]:
        """``--noX`` spellings, as oslo.config generates them for boolean options."""
        if not self.negatable:
            return ()
        return tuple("--no" + f[2:] for f in self.flags)

    def default_value(self) -> Any:
        """The effective default (computed ones, like the hostname, at call time)."""
        return self.default_factory() if self.default_factory else self.default

    def shown_default(self) -> str:
        """The default as the docs and ``--help`` show it."""
        if self.default_doc is not None:
            return self.default_doc
        if self.default is None:
            return ""
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        return str(self.default)


def _o(dest: str, *flags: str, **kw: Any) -> Option:
    return Option(dest=dest, flags=flags or ("--" + dest.replace("_", "-"),), **kw)


MODES = ("fs", "mysql", "mongodb", "mongo", "mssql", "sqlserver", "nova", "cinder", "cindernative",
         "cinderbrick", "glance")
ENGINES = ("tar", "rsync", "rsyncv2", "nova", "osbrick", "glance")
STORAGES = ("local", "swift", "ssh", "s3", "ftp", "ftps")
ACTIONS = ("backup", "restore", "info", "admin", "exec")
COMPRESSIONS = ("gzip", "bzip2", "xz", "zstd", "none")
ENCRYPT_FORMATS = ("freezer", "openssl")
DEFAULT_LOG_FILE = "~/.freezer/freezer.log"

_G, _L, _D, _R, _S, _A, _O, _C, _X = ("General", "Levels", "Data", "Restore and removal", "Snapshot",
                                      "Applications", "OpenStack", "Credentials", "Output and logging")

OPTIONS: tuple[Option, ...] = (
    # ------------------------------------------------------------ general
    _o("action", type="choice", default="backup", choices=ACTIONS,
       help="What to do: backup, restore, info (list the storage), admin (remove old backups) or exec."),
    _o("mode", short="-m", type="choice", default="fs", choices=MODES, open_choices=True,
       help="What is backed up: fs, mysql, mongodb, mssql, nova, cinder, cindernative, glance "
            "(mongo and sqlserver are upstream's names for mongodb and mssql)."),
    _o("engine_name", "--engine", short="-e", type="choice", default="tar", choices=ENGINES,
       open_choices=True, help="How the data is turned into a stream: tar, rsync, nova, osbrick, glance."),
    _o("path_to_backup", short="-F", help="The directory or file to back up (fs and mysql modes)."),
    _o("backup_name", short="-N", default="freezer_{mode}_{resource_id}",
       help="Name of the backup chain; may use {mode}, {backup_media}, {storage}, {container}, "
            "{project_id} and {resource_id} (the hostname for fs)."),
    _o("container", short="-C", default="freezer_backups",
       help="Where backups go: a swift container, bucket[/prefix] for s3, a directory for local/ssh."),
    _o("storage", type="choice", default="swift", choices=STORAGES, open_choices=True,
       help="Storage driver: local, swift, ssh, s3, ftp, ftps or any installed storage plugin."),
    _o("hostname", default_factory=socket.gethostname, default_doc="this host's name",
       help="Host name recorded with the backup; set it to restore another host's backups."),
    _o("config", help="INI file with options ([default] or [action]) and [storage:NAME] sections; "
                      "flags on the command line win over the file."),
    _o("dry_run", type="bool", default=False, negatable=True,
       help="Show what would be done; write nothing, to storage or to disk."),
    _o("insecure", type="bool", default=False, negatable=True,
       help="Do not verify TLS certificates of OpenStack endpoints."),
    _o("proxy", help="HTTP(S) proxy URL for storage and OpenStack traffic."),
    _o("max_priority", type="bool", default=False, negatable=True,
       help="Run with the highest CPU and I/O priority (needs root)."),
    _o("timeout", type="int", default=120, help="Seconds to wait for OpenStack resources to become ready."),
    _o("temp_resource_prefix", default="freezer_",
       help="Prefix of the temporary snapshots, volumes and images Freezer creates."),
    _o("os_identity_api_version", type="choice", choices=("3",),
       help="Keystone API version (only 3 is supported)."),
    _o("os_trust_id", secret=True, help="Keystone trust to act on behalf of another user."),
    _o("project_id", help="OpenStack project: back up every instance of it (nova), or a name placeholder."),
    # ------------------------------------------------------------ levels
    _o("incremental", type="bool", default=False, negatable=True, group=_L,
       help="Make incremental backups (chains of levels); without it every backup is level 0."),
    _o("no_incremental", type="bool", takes_value=True, negatable=True, group=_L,
       help="Legacy spelling: '--no-incremental true' disables and 'false' enables incremental backups."),
    _o("max_level", type="int", group=_L,
       help="Start a new chain after this level (needs --incremental)."),
    _o("always_level", type="int", group=_L,
       help="Always back up at this level, each time against level-1: differential (needs --incremental)."),
    _o("restart_always_level", type="float", group=_L,
       help="Days after which --always-level starts a new chain (needs --incremental)."),
    # ------------------------------------------------------------ data
    _o("compression", type="choice", default="gzip", choices=COMPRESSIONS, group=_D,
       help="gzip, bzip2, xz (upstream's), or zstd and none."),
    _o("encrypt_pass_file", group=_D, help="File whose first line is the encryption password."),
    _o("encrypt_format", type="choice", default="freezer", choices=ENCRYPT_FORMATS, group=_D, ours=True,
       help="freezer: authenticated encryption (AEAD chunks, scrypt key); openssl: upstream's "
            "AES-256-CFB, readable by upstream freezer-agent."),
    _o("exclude", group=_D, help="Glob of files to leave out."),
    _o("dereference_symlink", type="choice", choices=("soft", "hard", "all"), group=_D,
       help="Follow symbolic links (soft), hard links (hard) or both (all)."),
    _o("max_segment_size", short="-M", type="size", default=8388608, group=_D,
       help="Bytes per stored segment; sizes like 64M are accepted (about two are kept in memory)."),
    _o("rsync_block_size", type="size", default=4096, group=_D, help="Block size of the rsync engine."),
    _o("consistency_check", type="bool", default=False, negatable=True, group=_D,
       help="Compute a checksum of the source at backup time and verify it after restore."),
    _o("consistency_checksum", group=_D, help="Checksum a restore must match."),
    _o("sync", type="bool", default=True, negatable=True, group=_D,
       help="Flush file system buffers (sync) before the backup."),
    _o("upload_limit", type="size", default=-1, group=_D,
       help="Upload bandwidth limit in bytes per second, sizes like 10M accepted; -1 is unlimited."),
    _o("download_limit", type="size", default=-1, group=_D,
       help="Download bandwidth limit in bytes per second, sizes like 10M accepted; -1 is unlimited."),
    # ------------------------------------------------------------ restore and removal
    _o("restore_abs_path", group=_R, help="Directory to restore into."),
    _o("overwrite", type="bool", default=False, negatable=True, group=_R,
       help="Restore into a directory that is not empty."),
    _o("restore_from_date", type="date", group=_R,
       help="Restore the state at this date (YYYY-MM-DDThh:mm:ss; no zone means UTC)."),
    _o("remove_older_than", short="-R", type="float", group=_R,
       help="Remove backup chains older than this many days."),
    _o("remove_before_date", type="date", group=_R, help="Remove backup chains made before this date."),
    _o("remove_from_date", type="date", group=_R,
       help="Deprecated upstream spelling of --remove-before-date: removes chains made before the date."),
    _o("fullbackup_rotation", type="int", default=1, group=_R,
       help="Full backups to keep when removing (cindernative)."),
    _o("backup_id", group=_R, help="Backup to restore or remove (cindernative)."),
    # ------------------------------------------------------------ snapshot
    _o("snapshot", short="-s", type="bool", default=False, takes_value=True, negatable=True, group=_S,
       help="Back up from an LVM (or VSS) snapshot of the source."),
    _o("lvm_srcvol", group=_S, help="LVM volume to snapshot (guessed from the mount table if not given)."),
    _o("lvm_snapname", group=_S, default_doc="freezer_backup_snap_<uuid>", help="Name of the snapshot."),
    _o("lvm_snap_perm", type="choice", default="ro", choices=("ro", "rw"), group=_S,
       help="Mount the snapshot read-only (ro) or read-write (rw)."),
    _o("lvm_snapsize", default="1G", group=_S, help="Snapshot size (lvcreate --size; a % means --extents)."),
    _o("lvm_dirmount", group=_S, default_doc="/var/lib/freezer/mount_<uuid>",
       help="Where the snapshot is mounted."),
    _o("lvm_volgroup", group=_S, help="Volume group of the source volume."),
    # ------------------------------------------------------------ applications
    _o("mysql_conf", group=_A, help="INI file with a [default] section: host, user, password, port."),
    _o("mysql_strategy", type="choice", choices=("physical", "upstream"), group=_A, ours=True,
       help="How --mode mysql copies the server: physical (hot, mariadb-backup; the default when it is "
            "installed) or upstream (read lock and file copy)."),
    _o("sql_server_conf", group=_A, help="INI file with [default] instance= for SQL Server."),
    _o("mongodb_uri", group=_A, ours=True, secret=True,
       help="MongoDB connection URI for --mode mongodb (default mongodb://localhost:27017)."),
    _o("mongodb_node", type="choice", choices=("primary", "secondary", "any"), default="primary", group=_A,
       ours=True, help="Which member --mode mongodb may back up: the primary, a secondary, or any."),
    _o("command", group=_A, help="Command run by --action exec."),
    # ------------------------------------------------------------ openstack
    _o("nova_inst_id", group=_O, help="Nova instance to back up or restore."),
    _o("nova_inst_name", group=_O, help="Nova instance, by name."),
    _o("nova_restore_network", group=_O, help="Network to attach a restored instance to."),
    _o("cinder_vol_id", group=_O, help="Cinder volume to back up through glance."),
    _o("cinder_vol_name", group=_O, help="Cinder volume, by name."),
    _o("cinderbrick_vol_id", group=_O, help="Cinder volume to attach with os-brick and back up as files."),
    _o("cindernative_vol_id", group=_O, help="Cinder volume to back up with the cinder-backup service."),
    _o("cindernative_backup_id", group=_O, help="cinder-backup backup to restore."),
    _o("cindernative_backup_az", group=_O, help="Availability zone of the cinder backup."),
    _o("cindernative_backup_container", group=_O, default_doc="the --container value",
       help="Container of cinder backups; may use {project_id}, {volume_id}, {backup_name}."),
    _o("cindernative_freezer_only", type="bool", default=True, negatable=True, group=_O,
       help="Only touch cinder backups that Freezer made."),
    _o("glance_image_id", group=_O, help="Glance image to back up."),
    _o("glance_image_name", group=_O, help="Glance image, by name."),
    _o("glance_image_name_filter", group=_O, help="Skip images whose name contains this string."),
    # ------------------------------------------------------------ credentials
    _o("access_key", env="ACCESS_KEY", secret=True, group=_C,
       help="S3 access key, with --secret-key (when both are unset: the AWS chain, AWS_* variables or profiles)."),
    _o("secret_key", env="SECRET_KEY", secret=True, group=_C, help="S3 secret key."),
    _o("endpoint", env="ENDPOINT", group=_C,
       help="S3 endpoint URL of an S3-compatible server, e.g. http://127.0.0.1:9000; AWS S3 when unset."),
    _o("ssh_key", default="~/.ssh/id_rsa", group=_C, help="Private key for the ssh storage."),
    _o("ssh_password", secret=True, group=_C, help="Password for the ssh storage (prefer a key)."),
    _o("ssh_username", group=_C, help="User for the ssh storage."),
    _o("ssh_host", group=_C, help="Host of the ssh storage."),
    _o("ssh_port", type="int", default=22, group=_C, help="Port of the ssh storage."),
    _o("ssh_known_hosts", default="~/.ssh/known_hosts", group=_C, ours=True,
       help="known_hosts file the ssh storage checks the server's host key against."),
    _o("osrc", group=_C, help="openrc file whose OS_*/ST_* variables authenticate the swift storage (read, not run)."),
    _o("swift_slo", type="bool", default=False, negatable=True, group=_C, ours=True,
       help="Write swift backups as Static Large Objects instead of upstream's DLO manifest."),
    _o("region", group=_C, ours=True,
       help="S3 region (default: the AWS configuration's, else us-east-1)."),
    _o("ftp_username", group=_C, help="User for the ftp/ftps storage."),
    _o("ftp_password", secret=True, group=_C, help="Password for the ftp/ftps storage."),
    _o("ftp_host", group=_C, help="Host of the ftp/ftps storage."),
    _o("ftp_port", type="int", default=21, group=_C, help="Port of the ftp/ftps storage."),
    _o("ftp_keyfile", group=_C, help="TLS key file for ftps."),
    _o("ftp_certfile", group=_C, help="TLS certificate file for ftps."),
    # ------------------------------------------------------------ output and logging
    _o("metadata_out", group=_X, help="Write the result record as JSON to this file ('-' for stdout)."),
    _o("quiet", short="-q", type="bool", default=False, negatable=True, group=_X,
       help="Print nothing but errors."),
    _o("log_file", group=_X, default_doc=DEFAULT_LOG_FILE, help="Log file."),
    _o("debug", short="-d", type="bool", default=False, negatable=True, group=_X,
       help="Log at debug level."),
)

BY_DEST: dict[str, Option] = {o.dest: o for o in OPTIONS}
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(o.group for o in OPTIONS))

ALIASES: dict[str, str] = {"engine": "engine_name"}
"""Keys accepted in documents and config files besides the dests (after dash folding)."""

VALUE_ALIASES: dict[str, dict[str, str]] = {"mode": {"mongo": "mongodb", "sqlserver": "mssql"},
                                            "engine_name": {"rsyncv2": "rsync"}}
"""Upstream names of things our plugins call differently; mapped when options are read."""

SECRET_DESTS: frozenset[str] = frozenset(o.dest for o in OPTIONS if o.secret)


def normalize_key(key: str) -> str:
    """The dest a document or config key means: dashes equal underscores, aliases resolved."""
    folded = key.strip().replace("-", "_")
    return ALIASES.get(folded, folded)


def option_for(key: str) -> Option | None:
    """The option a key (dest, dashed name or alias) names, or None for a plugin's own key."""
    return BY_DEST.get(normalize_key(key))


# ---------------------------------------------------------------- value parsing

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0", "none"})
_SIZE_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def parse_bool(value: Any, flag: str = "value") -> bool:
    """Upstream's boolean spellings: True/true/False/false/None, plus yes/no/on/off/1/0."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValidationError(f"{flag}: {value!r} is not a boolean; use true or false")


def parse_size(value: Any, flag: str = "value") -> int:
    """Bytes from an int or a size such as ``10M``, ``1.5G``, ``512KiB`` (binary units)."""
    if isinstance(value, bool):
        raise ValidationError(f"{flag}: {value!r} is not a size; use bytes or a size like 10M")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    match = _SIZE_RE.match(str(value))
    if not match:
        raise ValidationError(f"{flag}: {value!r} is not a size; use bytes or a size like 10M")
    number, unit = match.group(1), match.group(2).lower()
    size = float(number) * _UNITS[unit]
    if not size.is_integer():
        raise ValidationError(f"{flag}: {value!r} is not a whole number of bytes")
    return int(size)


def _is_unset(value: Any) -> bool:
    # Upstream writes False or None (and the web UI '') for "not set" in every type.
    return value is None or value is False or (isinstance(value, str) and value.strip() in ("", "None"))


def coerce(option: Option, value: Any) -> Any:
    """Turn a value from the command line, an INI file or JSON into the option's type.

    "Unset" markers (None, False, '' and 'None') give the default back, because
    upstream documents use them for every type of option.

    :raises ValidationError: naming the option's flag.
    """
    flag = option.flag
    if option.type == "bool":
        if value is None or (isinstance(value, str) and not value.strip()):
            return option.default_value()
        if option.default is None and isinstance(value, str) and value.strip() == "None":
            return None  # a tri-state option (no_incremental) written back by str(None)
        return parse_bool(value, flag)
    if _is_unset(value):
        return option.default_value()
    if option.type == "size":
        return parse_size(value, flag)
    if option.type in ("int", "float"):
        cast: type = int if option.type == "int" else float
        if isinstance(value, bool):
            raise ValidationError(f"{flag}: {value!r} is not a number")
        try:
            number = cast(value) if option.type == "float" else _to_int(value)
        except (TypeError, ValueError):
            kind = "an integer" if option.type == "int" else "a number"
            raise ValidationError(f"{flag}: {value!r} is not {kind}") from None
        return number
    text = str(value).strip() if isinstance(value, str) else str(value)
    return VALUE_ALIASES.get(option.dest, {}).get(text, text)


def _to_int(value: Any) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    if isinstance(value, str):
        value = value.strip()
        if re.fullmatch(r"-?\d+\.0*", value):
            return int(value.split(".")[0])
    return int(value)


_SECRET_WORDS = re.compile(r"pass|secret|token|private|credential|(^|_)key$", re.IGNORECASE)


def is_secret(key: str) -> bool:
    """Whether a key holds a secret: a secret option, or a plugin key that looks like one."""
    dest = normalize_key(key)
    if dest in BY_DEST:
        return dest in SECRET_DESTS
    return bool(_SECRET_WORDS.search(dest))


def mask(key: str, value: Any) -> Any:
    """The value fit for a log line: secrets become ``***``."""
    if is_secret(key) and value not in (None, "", False):
        return "***"
    return value


# ---------------------------------------------------------------- docs


def render_cli_reference() -> str:
    """docs/cli.md, generated from :data:`OPTIONS` so the reference cannot drift from the code."""
    from freezer_core import errors

    out = [
        "# freezer-agent command-line reference",
        "",
        "<!-- Generated by freezer_core.options.render_cli_reference(); do not edit by hand. -->",
        "",
        "`freezer-agent [OPTIONS]` runs one action (backup, restore, info, admin or exec).",
        "Option names, short flags, dests and defaults are those of upstream freezer-agent, so",
        "existing scripts, cron lines, `--config` files and job documents keep working.",
        "Unique prefixes of long options are accepted (`--compress gzip`). Boolean options also",
        "have upstream's `--noX` form. Options marked *(Freezer)* are our additions.",
        "",
        "Sizes (`--max-segment-size`, `--rsync-block-size`, `--upload-limit`, `--download-limit`)",
        "take bytes or a size with a binary unit: `512K`, `64M`, `1.5G`, `10MiB`.",
        "Dates take `YYYY-MM-DDThh:mm:ss`, optionally with `Z` or `+hh:mm`, a space instead of `T`,",
        "or a plain `YYYY-MM-DD`; a date without a zone is UTC.",
        "",
    ]
    for group in GROUPS:
        out += [f"## {group}", "", "| Option | Dest | Type | Default | Description |",
                "|---|---|---|---|---|"]
        for opt in (o for o in OPTIONS if o.group == group):
            out.append(_reference_row(opt))
        out.append("")
    out += _reference_tail(errors.__doc__ or "")
    return "\n".join(out) + "\n"


def _reference_row(opt: Option) -> str:
    names = [f"`{f}`" for f in opt.flags]
    if opt.short:
        names.append(f"`{opt.short}`")
    if opt.takes_value:
        names[0] = f"`{opt.flag} [true\\|false]`"
    names += [f"`{n}`" for n in opt.negations]
    kind = opt.type
    if opt.choices:
        sep = "\\|"
        kind = sep.join(opt.choices) + (" or a plugin" if opt.open_choices else "")
    default = opt.shown_default()
    default = f"`{default}`" if default and opt.default_doc is None else default
    extra = []
    if opt.env:
        extra.append(f"Falls back to `${opt.env}`.")
    if opt.secret:
        extra.append("Never logged.")
    desc = " ".join([opt.help.replace("|", "\\|"), *extra])
    if opt.ours:
        desc = "*(Freezer)* " + desc
    return f"| {', '.join(names)} | `{opt.dest}` | {kind} | {default} | {desc} |"


def _reference_tail(errors_doc: str) -> list[str]:
    table = errors_doc[errors_doc.index("===="):].strip().splitlines()
    rows = [line for line in table if line and not line.startswith("=")]
    out = ["## Exit codes", "", "| Code | Meaning |", "|---|---|"]
    out += [f"| {row[:4].strip()} | {row[4:].strip()} |" for row in rows]
    out += [
        "",
        "## Configuration files (`--config FILE`)",
        "",
        "The file is an INI file in upstream's format. Keys are option dests (`backup_name`, dashes",
        "also accepted). `[default]`, `[action]` and any other section whose name does not start",
        "with `storage:` are merged into the options. Each `[storage:NAME]` section describes one",
        "storage for multi-storage backups and must set `storage` and `container`.",
        "Values `True`/`true` mean true and `False`/`false`/`None` mean false (or unset).",
        "",
        "```ini",
        "[default]",
        "action = backup",
        "path_to_backup = /srv",
        "backup_name = srv",
        "",
        "[storage:local1]",
        "storage = local",
        "container = /backups/a",
        "```",
        "",
        "### Precedence",
        "",
        "From strongest to weakest: flags on the command line, then the `--config` file, then",
        "environment variables (`ACCESS_KEY`, `SECRET_KEY`, `ENDPOINT`), then the defaults above.",
        "",
        "This differs from upstream on purpose: upstream freezer-agent lets the file override the",
        "command line (contrary to its own documentation). With Freezer a one-off flag such as",
        "`--dry-run` or `--restore-from-date` works on top of a scheduler job file.",
        "",
        "## Output",
        "",
        "`--metadata-out FILE` (or `-` for stdout) writes the result record as JSON, with upstream's",
        "fields and the real `curr_backup_level`. Errors are one line on stderr,",
        "`freezer-agent: error: <what went wrong and what to do>`, with the exit codes above; the",
        "traceback of an unexpected failure goes to the log file only. Progress (bytes and rate) is",
        "shown on stderr when it is a terminal and never when it is piped.",
    ]
    return out
