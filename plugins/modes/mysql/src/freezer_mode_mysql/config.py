"""Reading ``--mysql-conf`` and handing the credentials to client tools without exposing them.

The file is upstream Freezer's: an INI file whose ``[default]`` section holds
``host``, ``user``, ``password`` and ``port`` (3306).  A MySQL-style ``[client]``
section works too, so an existing ``~/.my.cnf``-like file can be reused.  The
password never appears on a command line, in the log or in an exception: the
tools get it from a private 0600 defaults file that is removed afterwards.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from freezer_core.errors import ConfigError

SECTIONS = ("default", "client", "mysql", "mariadb-backup", "mariadb", "DEFAULT")
"""Sections read for connection settings, in order; the first that has a key wins."""

KEYS = ("host", "user", "password", "port", "socket", "datadir", "defaults_file")


@dataclass(frozen=True)
class MysqlSettings:
    """Where the server is and who to log in as; ``repr`` never shows the password."""

    host: str = "localhost"
    user: str = "root"
    password: str = field(default="", repr=False)
    port: int = 3306
    socket: str | None = None
    datadir: str | None = None
    """The server's data directory, when the file says it (else asked from the server)."""
    defaults_file: str | None = None
    """The server's own option file, included so the tools see its InnoDB settings."""
    source: str = ""
    """The file these settings came from, for messages."""

    def connect_args(self) -> dict[str, object]:
        """Keyword arguments for ``pymysql.connect``."""
        args: dict[str, object] = {"user": self.user, "password": self.password, "port": self.port}
        if self.socket and self.host in ("localhost", ""):
            args["unix_socket"] = self.socket
        else:
            args["host"] = self.host or "localhost"
        return args

    def where(self) -> str:
        if self.socket and self.host in ("localhost", ""):
            return f"{self.user}@localhost (socket {self.socket})"
        return f"{self.user}@{self.host}:{self.port}"


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def read_settings(path: str | None) -> MysqlSettings:
    """The settings in a ``--mysql-conf`` file.

    :raises ConfigError: no file given, not readable, not INI, no usable section, bad port.
    """
    if not path:
        raise ConfigError("--mode mysql needs --mysql-conf: give an INI file with a [default] section "
                          "holding host, user, password (and port)")
    file = Path(path).expanduser()
    parser = configparser.ConfigParser(interpolation=None, allow_no_value=True, strict=False,
                                       default_section="\0none", comment_prefixes=("#", ";", "!"))
    parser.optionxform = lambda key: key.strip().lower().replace("-", "_")  # type: ignore[method-assign]
    try:
        with open(file, encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        raise ConfigError(f"--mysql-conf {path}: no such file; create it with a [default] section "
                          f"holding host, user, password, port") from None
    except PermissionError:
        raise ConfigError(f"--mysql-conf {path}: permission denied; make it readable by this user") from None
    except (configparser.Error, UnicodeDecodeError, IsADirectoryError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"--mysql-conf {path} is not an INI file ({first}); it needs a [default] "
                          f"section with host, user, password, port") from None
    sections = [s for s in SECTIONS if parser.has_section(s)]
    if not sections:
        raise ConfigError(f"--mysql-conf {path} has no [default] (or [client]) section: add one with "
                          f"host, user, password, port")
    values: dict[str, str] = {}
    for key in KEYS:
        for section in sections:
            raw = parser.get(section, key, fallback=None)
            if raw is not None:
                values[key] = _unquote(raw)
                break
    port_text = values.get("port") or "3306"
    try:
        port = int(port_text)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ConfigError(f"--mysql-conf {path}: port {port_text!r} is not a TCP port; use 1-65535")
    return MysqlSettings(
        host=values.get("host") or "localhost", user=values.get("user") or "root",
        password=values.get("password", ""), port=port, socket=values.get("socket") or None,
        datadir=values.get("datadir") or None, defaults_file=values.get("defaults_file") or None,
        source=str(file),
    )


def _option_value(value: str) -> str:
    """A value as an option file reads it back verbatim: escaped backslashes, quoted for ``#``."""
    escaped = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
    quote = '"' if '"' not in escaped else "'"
    return f"{quote}{escaped}{quote}"


@contextlib.contextmanager
def client_defaults_file(settings: MysqlSettings, datadir: str | None = None) -> Iterator[Path]:
    """A private (0600) option file with the credentials, for ``--defaults-file``; removed on exit.

    When the settings name the server's own option file it is ``!include``-d
    first, so the tools see the server's InnoDB layout, and our ``[client]``
    lines, read after it, win for the connection.
    """
    fd, name = tempfile.mkstemp(prefix="freezer-mysql-", suffix=".cnf")
    path = Path(name)
    try:
        os.fchmod(fd, 0o600)
        lines = []
        if settings.defaults_file:
            lines.append(f"!include {Path(settings.defaults_file).expanduser().absolute()}")
        lines += ["[client]", f"user={_option_value(settings.user)}",
                  f"password={_option_value(settings.password)}"]
        if settings.socket:
            lines.append(f"socket={settings.socket}")
        if settings.host and not (settings.socket and settings.host in ("localhost", "")):
            lines += [f"host={settings.host}", f"port={settings.port}"]
        if datadir:
            lines += ["[mysqld]", f"datadir={datadir}"]
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            fd = -1
            handle.write("\n".join(lines) + "\n")
        yield path
    finally:
        if fd >= 0:
            os.close(fd)
        path.unlink(missing_ok=True)
