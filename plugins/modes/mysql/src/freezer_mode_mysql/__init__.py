"""mysql mode: consistent MySQL/MariaDB backups, hot physical or upstream-compatible.

The strategy follows the engine, because the engine is what reads the data:

* ``--engine mariabackup`` (hot physical): this mode checks the server and
  the credentials and hands the engine a private option file; the engine
  streams ``mariadb-backup --backup --stream=xbstream`` through the pipeline.
  InnoDB is copied while it runs and made consistent by ``--prepare`` at
  restore; the server takes only its short ``BACKUP STAGE`` locks.
* any file engine (``tar``, upstream's default): upstream's method, kept for
  compatibility.  ``FLUSH TABLES WITH READ LOCK``; with ``--snapshot`` a
  file-system snapshot is taken and the lock released at once, otherwise the
  lock is held for the whole copy (and the log says so) and InnoDB's dirty
  pages are flushed first so the files on disk stop changing.

Whatever fails, the lock is released and the option file removed before the
error reaches the user, so a failed backup never leaves writers blocked.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

from freezer_core.contract import Mode, Options, Source
from freezer_core.errors import ModeError, ValidationError
from freezer_mode_mysql.config import MysqlSettings, client_defaults_file, read_settings
from freezer_mode_mysql.server import Server

__all__ = ["MysqlMode", "MysqlSettings", "read_settings"]

LOG = logging.getLogger("freezer.mode.mysql")

PHYSICAL_ENGINES = ("mariabackup",)
STRATEGIES = ("physical", "upstream")


class MysqlMode(Mode):
    name = "mysql"

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.strategy = _strategy(options)

    @classmethod
    def preferred_engine(cls, options: Options) -> str | None:
        """Hot physical when mariadb-backup is installed, unless ``--mysql-strategy upstream``."""
        if options.get("mysql_strategy") == "upstream":
            return None
        if shutil.which("mariadb-backup") or shutil.which("mariabackup"):
            return "mariabackup"
        return None

    # ------------------------------------------------------------ backup

    @contextlib.contextmanager
    def prepare(self) -> Iterator[Source]:
        settings = read_settings(self.options.get("mysql_conf"))
        hostname = str(self.options.get("hostname") or socket.gethostname())
        timeout = int(self.options.get("timeout") or 120)
        if self.strategy == "physical":
            with Server.connect(settings, timeout) as server:
                datadir = settings.datadir or server.datadir()
                LOG.info("hot physical backup of %s (%s), datadir %s", settings.where(), server.version(), datadir)
                server.probe_backup_locks()
            if not Path(datadir).is_dir():
                raise ModeError(f"the server's datadir {datadir} is not on this machine: run the mariabackup "
                                f"engine on the database host")
            with client_defaults_file(settings, datadir) as cnf:
                yield Source(Path(datadir), hostname, {"mysql_defaults_file": str(cnf),
                                                       "mysql_datadir": datadir, "fs_real_path": datadir})
            return
        with Server.connect(settings, timeout) as server:
            path = self._datadir(settings, server)
            with server.read_lock():
                if self.options.get("snapshot"):
                    with self._snapshot(path) as frozen:
                        server.unlock()
                        LOG.info("FLUSH TABLES WITH READ LOCK released after the snapshot %s", frozen)
                        yield Source(frozen, hostname, {"fs_real_path": str(path), "vol_snap_path": str(frozen)})
                    return
                LOG.warning("no --snapshot: FLUSH TABLES WITH READ LOCK is held on %s for the whole copy of %s; "
                            "writers wait until it ends%s", settings.where(), path,
                            " (mariadb-backup is installed: --engine mariabackup takes a hot backup)"
                            if tool_installed() else "")
                server.quiesce_innodb(timeout)
                yield Source(path, hostname, {"fs_real_path": str(path)})

    def _datadir(self, settings: MysqlSettings, server: Server) -> Path:
        raw = self.options.get("path_to_backup") or settings.datadir or server.datadir()
        path = Path(str(raw)).expanduser().absolute()
        if not path.is_dir():
            raise ValidationError(f"--path-to-backup {raw}: not a directory; give the server's datadir")
        live = server.datadir()
        if live and os.path.realpath(live) != os.path.realpath(path):
            LOG.warning("--path-to-backup %s is not the datadir the server reports (%s)", path, live)
        return path

    def _snapshot(self, path: Path) -> contextlib.AbstractContextManager[Path]:
        from freezer_mode_fs.snapshot import snapshot_for

        return snapshot_for(path, self.options)

    # ------------------------------------------------------------ restore

    @contextlib.contextmanager
    def restoring(self) -> Iterator[Path]:
        raw = self.options.get("restore_abs_path")
        if not raw:
            raise ValidationError("--restore-abs-path is required to restore --mode mysql: give the "
                                  "(new, empty) datadir to restore into")
        target = Path(str(raw)).expanduser().absolute()
        if target.exists() and not target.is_dir():
            raise ValidationError(f"--restore-abs-path {raw} is not a directory")
        if (target / "mysql.sock").exists() or _pid_files(target):
            raise ValidationError(f"--restore-abs-path {raw} belongs to a running server (pid file "
                                  f"present): stop it, or restore into another directory")
        if target.is_dir() and any(target.iterdir()) and not self.options.get("overwrite"):
            raise ValidationError(f"--restore-abs-path {raw} is not empty: restore into an empty "
                                  f"directory or add --overwrite")
        owner = _owner(target)
        if not self.options.get("dry_run"):
            try:
                target.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ModeError(f"cannot create --restore-abs-path {raw}: {exc.strerror}") from exc
        yield target
        if owner is not None and not self.options.get("dry_run"):
            _chown_tree(target, *owner)
        LOG.info("datadir restored in %s: start the server with datadir=%s", target, target)


def _strategy(options: Options) -> str:
    engine = str(options.get("engine_name") or "tar")
    natural = "physical" if engine in PHYSICAL_ENGINES else "upstream"
    asked = options.get("mysql_strategy")
    if asked is None or asked == "":
        return natural
    asked = str(asked).lower()
    if asked not in STRATEGIES:
        raise ValidationError(f"mysql_strategy: unknown value {asked!r}; use physical or upstream")
    if asked != natural:
        want = "--engine mariabackup" if asked == "physical" else "a file engine such as --engine tar"
        raise ValidationError(f"mysql_strategy {asked} needs {want} (got --engine {engine})")
    return asked


def _pid_files(target: Path) -> bool:
    return target.is_dir() and any(p.suffix == ".pid" for p in target.iterdir())


def _owner(target: Path) -> tuple[int, int] | None:
    """Who restored files should belong to: the owner of an existing target, when we are root."""
    if os.geteuid() != 0 or not target.is_dir():
        return None
    st = target.stat()
    return None if st.st_uid == 0 else (st.st_uid, st.st_gid)


def _chown_tree(target: Path, uid: int, gid: int) -> None:
    """Give the restored datadir to the server's user, so the server can start on it."""
    for root, dirs, files in os.walk(target):
        for name in (*dirs, *files):
            with contextlib.suppress(OSError):
                os.lchown(os.path.join(root, name), uid, gid)
    LOG.info("restored files given to uid %d gid %d (the owner of %s)", uid, gid, target)


def tool_installed() -> str | None:
    """The hot-backup tool found on PATH, for hints."""
    return shutil.which("mariadb-backup") or shutil.which("mariabackup") or shutil.which("xtrabackup")
