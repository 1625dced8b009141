"""mongodb mode: a consistent copy of a MongoDB node's files, taken under ``fsyncLock``.

The node is given by ``mongodb_uri`` (``mongodb://user:pw@host:port/?...``;
default ``mongodb://localhost:27017``) in ``--config`` or the job document,
so any node can be reached, not only the local default.  The mode refuses a
node in the wrong role before touching anything: by default it must be the
primary (``mongodb_node = primary``); ``secondary`` backs up a secondary so
the primary is never locked; ``any`` skips the check.

``fsync`` with ``lock: true`` flushes every write to disk and blocks new
ones; with ``--snapshot`` a file-system snapshot of ``--path-to-backup`` (the
dbPath) is taken and the node unlocked at once, otherwise the files are
copied while it stays locked.  ``fsyncUnlock`` always follows, whether the
copy succeeded or not.  The URI's password is never logged.

When ``mongodump`` is installed the mode prefers ``--engine mongodump``: a
logical dump streamed from the node, with no lock and no access to its files
(see freezer-engine-mongodump).  ``--engine tar`` keeps the file copy.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from freezer_core.contract import Mode, Options, Source
from freezer_core.errors import ConfigError, ModeError, ValidationError

__all__ = ["MongodbMode"]

LOG = logging.getLogger("freezer.mode.mongodb")

DEFAULT_URI = "mongodb://localhost:27017"
NODES = ("primary", "secondary", "any")
AUTH_FAILED = (18, 13)


def redact_uri(uri: str) -> str:
    """The URI as it may be shown: the password replaced by ``***``."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", uri)


class MongodbMode(Mode):
    name = "mongodb"

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.uri = str(options.get("mongodb_uri") or DEFAULT_URI)
        self.node = str(options.get("mongodb_node") or "primary").lower()
        if self.node not in NODES:
            raise ValidationError(f"mongodb_node: unknown value {self.node!r}; use primary, secondary or any")
        self._unlocked = True

    @classmethod
    def preferred_engine(cls, options: Options) -> str | None:
        """A streamed ``mongodump`` when the tool is installed, else the file copy."""
        return "mongodump" if shutil.which("mongodump") else None

    @property
    def _dumps(self) -> bool:
        return self.options.get("engine_name") == "mongodump"

    @contextlib.contextmanager
    def prepare(self) -> Iterator[Source]:
        if self._dumps:
            with self._client() as client:
                hello = self._check_role(client)
            yield Source(None, str(self.options.get("hostname") or socket.gethostname()),
                         {"mongodb_replica_set": bool(hello.get("setName"))})
            return
        raw = self.options.get("path_to_backup")
        if not raw:
            raise ValidationError("--mode mongodb needs --path-to-backup: give the node's dbPath")
        path = Path(str(raw)).expanduser().absolute()
        if not path.is_dir():
            raise ValidationError(f"--path-to-backup {raw}: not a directory; give the node's dbPath")
        hostname = str(self.options.get("hostname") or socket.gethostname())
        with self._client() as client:
            self._check_role(client)
            self._command(client, "taking fsyncLock", {"fsync": 1, "lock": True})
            self._unlocked = False
            LOG.info("fsyncLock taken on %s", redact_uri(self.uri))
            try:
                if self.options.get("snapshot"):
                    from freezer_mode_fs.snapshot import snapshot_for

                    with snapshot_for(path, self.options) as frozen:
                        self._unlock(client)
                        yield Source(frozen, hostname, {"fs_real_path": str(path), "vol_snap_path": str(frozen)})
                    return
                LOG.warning("no --snapshot: %s stays fsyncLocked for the whole copy of %s; writes wait",
                            redact_uri(self.uri), path)
                yield Source(path, hostname, {"fs_real_path": str(path)})
            finally:
                self._unlock(client)

    @contextlib.contextmanager
    def restoring(self) -> Iterator[Path]:
        if self._dumps:  # mongorestore writes to the server at mongodb_uri, not to files
            with tempfile.TemporaryDirectory(prefix="freezer-mongorestore-") as scratch:
                yield Path(scratch)
            LOG.info("restored into %s", redact_uri(self.uri))
            return
        raw = self.options.get("restore_abs_path")
        if not raw:
            raise ValidationError("--restore-abs-path is required to restore --mode mongodb: give the "
                                  "(new, empty) dbPath to restore into")
        target = Path(str(raw)).expanduser().absolute()
        if target.is_dir() and any(target.iterdir()) and not self.options.get("overwrite"):
            raise ValidationError(f"--restore-abs-path {raw} is not empty: restore into an empty "
                                  f"directory or add --overwrite")
        if not self.options.get("dry_run"):
            try:
                target.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ModeError(f"cannot create --restore-abs-path {raw}: {exc.strerror}") from exc
        yield target
        LOG.info("dbPath restored in %s: start mongod with --dbpath %s", target, target)

    # ------------------------------------------------------------ server

    @contextlib.contextmanager
    def _client(self) -> Iterator[Any]:
        import pymongo
        from pymongo.errors import ConfigurationError, InvalidURI

        timeout_ms = int(self.options.get("timeout") or 120) * 1000
        try:
            client: Any = pymongo.MongoClient(self.uri, directConnection=True, connect=False,
                                              serverSelectionTimeoutMS=min(timeout_ms, 30000),
                                              connectTimeoutMS=min(timeout_ms, 30000))
        except (InvalidURI, ConfigurationError, ValueError) as exc:
            raise ConfigError(f"mongodb_uri {redact_uri(self.uri)} is not a MongoDB URI ({exc}); use "
                              f"mongodb://[user:password@]host[:port]") from None
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.close()

    def _command(self, client: Any, doing: str, command: dict[str, Any]) -> dict[str, Any]:
        from pymongo.errors import OperationFailure, PyMongoError, ServerSelectionTimeoutError

        where = redact_uri(self.uri)
        try:
            reply: dict[str, Any] = client.admin.command(command)
            return reply
        except ServerSelectionTimeoutError:
            raise ModeError(f"cannot reach MongoDB at {where}: check it is running and mongodb_uri") from None
        except OperationFailure as exc:
            if exc.code in AUTH_FAILED:
                raise ModeError(f"MongoDB at {where} refused the login or the command (wrong user, password "
                                f"or role): fix mongodb_uri") from None
            raise ModeError(f"{doing} on {where} failed: {exc.details.get('errmsg') if exc.details else exc}"
                            ) from None
        except PyMongoError as exc:
            raise ModeError(f"{doing} on {where} failed: {exc}") from None

    def _check_role(self, client: Any) -> dict[str, Any]:
        hello = self._command(client, "asking the node's role", {"hello": 1})
        primary = bool(hello.get("isWritablePrimary", hello.get("ismaster")))
        secondary = bool(hello.get("secondary"))
        role = "primary" if primary else "secondary" if secondary else "neither primary nor secondary"
        if self.node == "primary" and not primary:
            raise ModeError(f"MongoDB at {redact_uri(self.uri)} is {role}, not the primary: point mongodb_uri "
                            f"at the primary, or set mongodb_node = secondary to back up a secondary")
        if self.node == "secondary" and not secondary:
            raise ModeError(f"MongoDB at {redact_uri(self.uri)} is {role}, not a secondary: point mongodb_uri "
                            f"at a secondary, or set mongodb_node = primary")
        LOG.info("MongoDB at %s is %s", redact_uri(self.uri), role)
        return hello

    def _unlock(self, client: Any) -> None:
        """``fsyncUnlock`` once; a failure is logged, never hides the error that led here."""
        if self._unlocked:
            return
        self._unlocked = True
        try:
            self._command(client, "fsyncUnlock", {"fsyncUnlock": 1})
            LOG.info("fsyncUnlock on %s", redact_uri(self.uri))
        except ModeError as exc:
            LOG.error("%s: unlock the node by hand with db.fsyncUnlock()", exc)
            raise
