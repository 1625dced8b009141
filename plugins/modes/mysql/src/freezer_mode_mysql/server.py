"""One connection to the server, and the locks taken through it.

Every PyMySQL error is turned into a one-line :class:`ModeError` that names
the server and says what to check; the password is never part of a message.
The read lock lives on this connection: closing it (even by a crash) releases
the lock, and :meth:`Server.read_lock` releases it explicitly on every exit.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import pymysql

from freezer_core.errors import ModeError
from freezer_mode_mysql.config import MysqlSettings

LOG = logging.getLogger("freezer.mode.mysql")

ACCESS_DENIED = (1044, 1045, 1698)
LOCK_TIMEOUT = (1205,)
QUIESCE_POLL = 0.2


class Server:
    def __init__(self, settings: MysqlSettings, conn: Any) -> None:
        self.settings = settings
        self._conn = conn
        self.locked = False
        self._saved_dirty_pct: str | None = None

    @classmethod
    @contextlib.contextmanager
    def connect(cls, settings: MysqlSettings, timeout: int = 120) -> Iterator[Server]:
        """Log in, or fail with one line saying whether the server or the credentials are wrong."""
        try:
            conn = pymysql.connect(**settings.connect_args(), connect_timeout=min(timeout, 30),  # type: ignore[arg-type]
                                   autocommit=True)
        except pymysql.err.OperationalError as exc:
            code = exc.args[0] if exc.args else 0
            if code in ACCESS_DENIED:
                raise ModeError(f"MySQL refused the login {settings.where()} (wrong user or password): "
                                f"fix --mysql-conf {settings.source}") from None
            raise ModeError(f"cannot reach the MySQL server {settings.where()} ({_reason(exc)}): "
                            f"check it is running and the host/port in --mysql-conf {settings.source}") from None
        except (pymysql.err.Error, OSError) as exc:
            raise ModeError(f"cannot connect to MySQL {settings.where()}: {_reason(exc)}") from None
        server = cls(settings, conn)
        try:
            with server._errors("setting the lock timeout"):
                server._execute(f"SET SESSION lock_wait_timeout = {max(1, int(timeout))}")
            yield server
        finally:
            server.close()

    # ------------------------------------------------------------ facts

    def datadir(self) -> str:
        return str(self._one("SELECT @@datadir") or "").rstrip("/") or "/var/lib/mysql"

    def version(self) -> str:
        return str(self._one("SELECT VERSION()") or "")

    # ------------------------------------------------------------ locking

    @contextlib.contextmanager
    def read_lock(self) -> Iterator[None]:
        """``FLUSH TABLES WITH READ LOCK`` for the duration; always ``UNLOCK TABLES`` after."""
        with self._errors("taking FLUSH TABLES WITH READ LOCK"):
            self._execute("FLUSH TABLES WITH READ LOCK")
        self.locked = True
        LOG.info("FLUSH TABLES WITH READ LOCK taken on %s", self.settings.where())
        try:
            yield
        finally:
            self.unlock()

    def probe_backup_locks(self) -> None:
        """Check that mariadb-backup's ``BACKUP STAGE`` locks can be had within ``--timeout``.

        mariadb-backup itself would wait for a conflicting lock (``LOCK TABLES
        ... WRITE``, a long DDL) for as long as the server lets it, a day by
        default: this probe turns that into one clear error before anything
        is streamed.  Servers without ``BACKUP STAGE`` (MySQL, MariaDB < 10.4)
        are not probed.
        """
        doing = "taking the BACKUP STAGE locks mariadb-backup needs"
        try:
            with self._errors(doing):
                try:
                    self._execute("BACKUP STAGE START")
                except pymysql.err.ProgrammingError:
                    return
                self._execute("BACKUP STAGE BLOCK_COMMIT")
        finally:
            with contextlib.suppress(pymysql.err.Error, OSError):
                self._execute("BACKUP STAGE END")

    def unlock(self) -> None:
        """Release the read lock (and restore the flushing setting); safe to call twice."""
        if self._saved_dirty_pct is not None:
            with contextlib.suppress(pymysql.err.Error, OSError):
                self._execute(f"SET GLOBAL innodb_max_dirty_pages_pct = {float(self._saved_dirty_pct)}")
            self._saved_dirty_pct = None
        if not self.locked:
            return
        self.locked = False
        try:
            self._execute("UNLOCK TABLES")
            LOG.info("UNLOCK TABLES on %s", self.settings.where())
        except (pymysql.err.Error, OSError) as exc:  # the lock dies with the connection, closed next
            LOG.warning("UNLOCK TABLES failed (%s); closing the connection releases the lock", _reason(exc))
            self.close()

    def quiesce_innodb(self, timeout: int) -> None:
        """Flush InnoDB's dirty pages under the read lock, so a plain file copy sees stable files.

        Without it InnoDB keeps writing pages in the background while the copy
        runs and the copied files need not match each other.  Best effort: a
        user without the privilege to change the setting gets a warning.
        """
        try:
            self._saved_dirty_pct = str(self._one("SELECT @@GLOBAL.innodb_max_dirty_pages_pct"))
            self._execute("SET GLOBAL innodb_max_dirty_pages_pct = 0")
        except (pymysql.err.Error, OSError) as exc:
            self._saved_dirty_pct = None
            LOG.warning("cannot flush InnoDB before the copy (%s): the copy may need crash recovery", _reason(exc))
            return
        deadline = time.monotonic() + timeout
        while True:
            dirty = int(self._status("Innodb_buffer_pool_pages_dirty") or 0)
            if dirty == 0:
                LOG.info("InnoDB dirty pages flushed")
                return
            if time.monotonic() > deadline:
                LOG.warning("InnoDB still has %d dirty pages after %ds; copying anyway", dirty, timeout)
                return
            time.sleep(QUIESCE_POLL)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    # ------------------------------------------------------------ helpers

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except pymysql.err.OperationalError as exc:
            code = exc.args[0] if exc.args else 0
            if code in LOCK_TIMEOUT:
                raise ModeError(f"{doing} on {self.settings.where()} timed out (another session holds a "
                                f"conflicting lock): retry later or raise --timeout") from None
            raise ModeError(f"{doing} on {self.settings.where()} failed: {_reason(exc)}") from None
        except (pymysql.err.Error, OSError) as exc:
            raise ModeError(f"{doing} on {self.settings.where()} failed: {_reason(exc)}") from None

    def _execute(self, sql: str) -> None:
        if self._conn is None:
            raise ModeError("the MySQL connection is closed")
        with self._conn.cursor() as cur:
            cur.execute(sql)

    def _one(self, sql: str) -> Any:
        with self._errors(sql.split()[0].lower()):
            if self._conn is None:
                raise ModeError("the MySQL connection is closed")
            with self._conn.cursor() as cur:
                cur.execute(sql)
                row = cur.fetchone()
        return row[0] if row else None

    def _status(self, name: str) -> Any:
        with self._errors("reading server status"):
            assert self._conn is not None
            with self._conn.cursor() as cur:
                cur.execute("SHOW GLOBAL STATUS LIKE %s", (name,))
                row = cur.fetchone()
        return row[1] if row else None


def _reason(exc: BaseException) -> str:
    """The server's own message, without PyMySQL's tuple wrapping."""
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[1], str):
        return args[1]
    return str(exc) or type(exc).__name__
