"""mssql mode: online SQL Server backups with ``BACKUP DATABASE ... WITH COPY_ONLY``.

Upstream stops the SQL Server service for the whole copy.  Here the server
keeps running: each database is written by SQL Server itself with
``BACKUP DATABASE [db] TO DISK = ... WITH COPY_ONLY, CHECKSUM`` (a
transactionally consistent full backup that does not disturb the server's own
backup chain) into a private directory, which the engine then streams; the
directory is removed when the backup ends, whatever happens.  Restore puts the
``.bak`` files into a private directory and runs ``RESTORE DATABASE ... WITH
REPLACE, CHECKSUM`` for each.

``--sql-server-conf`` is upstream's INI file: ``[default] instance=``; our
additions are ``server`` (``host[,port]``, default ``localhost`` or
``localhost\\instance``), ``user``/``password`` (else Windows/trusted login),
``databases`` (comma separated; default every online user database) and
``backup_dir`` (a directory the SQL Server service can write).  sqlcmd gets
the password through ``SQLCMDPASSWORD``, never on its command line.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from freezer_core.contract import Mode, Source
from freezer_core.errors import ModeError, ValidationError
from freezer_mode_mssql.sqlcmd import MssqlSettings, Sqlcmd, quote_name, quote_string, read_settings

__all__ = ["MssqlMode", "MssqlSettings", "read_settings"]

LOG = logging.getLogger("freezer.mode.mssql")

LIST_DATABASES = ("SET NOCOUNT ON; SELECT name FROM sys.databases WHERE database_id > 4 "
                  "AND state_desc = 'ONLINE' ORDER BY name")


class MssqlMode(Mode):
    name = "mssql"

    @contextlib.contextmanager
    def prepare(self) -> Iterator[Source]:
        settings = read_settings(self.options.get("sql_server_conf"))
        sql = Sqlcmd(settings, int(self.options.get("timeout") or 120))
        databases = list(settings.databases) or [d for d in sql.query(LIST_DATABASES) if d]
        if not databases:
            raise ModeError(f"SQL Server {settings.server} has no online user database to back up: "
                            f"name them with databases= in --sql-server-conf")
        hostname = str(self.options.get("hostname") or socket.gethostname())
        with _private_dir(settings.backup_dir, "freezer-mssql-") as work:
            for db in databases:
                bak = work / f"{db}.bak"
                LOG.info("BACKUP DATABASE %s (COPY_ONLY) on %s", db, settings.server)
                sql.execute(f"BACKUP DATABASE {quote_name(db)} TO DISK = {quote_string(str(bak))} "
                            f"WITH COPY_ONLY, CHECKSUM, INIT, FORMAT")
            yield Source(work, hostname, {"mssql_server": settings.server, "mssql_databases": databases})

    @contextlib.contextmanager
    def restoring(self) -> Iterator[Path]:
        settings = read_settings(self.options.get("sql_server_conf"))
        sql = Sqlcmd(settings, int(self.options.get("timeout") or 120))
        staging = self.options.get("restore_abs_path") or settings.backup_dir
        with _private_dir(staging, "freezer-mssql-restore-") as work:
            yield work
            baks = sorted(work.rglob("*.bak"))
            if not baks:
                raise ModeError("the restored backup holds no .bak file: it was not made by --mode mssql")
            for bak in baks:
                db = bak.stem
                LOG.info("RESTORE DATABASE %s on %s", db, settings.server)
                sql.execute(f"RESTORE DATABASE {quote_name(db)} FROM DISK = {quote_string(str(bak))} "
                            f"WITH REPLACE, CHECKSUM, RECOVERY")


@contextlib.contextmanager
def _private_dir(parent: str | None, prefix: str) -> Iterator[Path]:
    """A fresh directory the SQL Server service may write to, removed afterwards."""
    if parent and not Path(parent).is_dir():
        raise ValidationError(f"{parent}: not a directory; give an existing directory that SQL Server can write")
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=parent or None))
    try:
        work.chmod(0o733)  # the service account writes the .bak files; nobody else can list them
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)
