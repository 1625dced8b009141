"""``--sql-server-conf`` and the ``sqlcmd`` boundary: the one place SQL reaches SQL Server.

sqlcmd runs with ``-b`` (non-zero exit on any SQL error) and the password in
``SQLCMDPASSWORD``; its messages are turned into one-line errors that say
whether the server, the login or the statement is at fault.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from freezer_core.errors import ConfigError, ModeError


@dataclass(frozen=True)
class MssqlSettings:
    server: str = "localhost"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    databases: tuple[str, ...] = ()
    backup_dir: str | None = None
    source: str = ""


def read_settings(path: str | None) -> MssqlSettings:
    """The settings of a ``--sql-server-conf`` file (``[default] instance=`` at least).

    :raises ConfigError: no file, unreadable, not INI, no ``[default]`` section.
    """
    if not path:
        raise ConfigError("--mode mssql needs --sql-server-conf: give an INI file with a [default] section "
                          "holding instance= (and server, user, password)")
    parser = configparser.ConfigParser(interpolation=None, default_section="\0none")
    try:
        with open(Path(path).expanduser(), encoding="utf-8") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        raise ConfigError(f"--sql-server-conf {path}: no such file; create it with a [default] section") from None
    except PermissionError:
        raise ConfigError(f"--sql-server-conf {path}: permission denied; make it readable") from None
    except (configparser.Error, UnicodeDecodeError, IsADirectoryError):
        raise ConfigError(f"--sql-server-conf {path} is not an INI file: it needs a [default] section "
                          f"with instance=") from None
    if not parser.has_section("default"):
        raise ConfigError(f"--sql-server-conf {path} has no [default] section: add one with instance=")
    sec = parser["default"]
    instance = sec.get("instance", "").strip()
    server = sec.get("server", "").strip() or (f"localhost\\{instance}" if instance and
                                               instance.upper() != "MSSQLSERVER" else "localhost")
    databases = tuple(d.strip() for d in sec.get("databases", "").split(",") if d.strip())
    return MssqlSettings(server=server, user=sec.get("user") or None, password=sec.get("password") or None,
                         databases=databases, backup_dir=sec.get("backup_dir") or None, source=str(path))


def quote_name(name: str) -> str:
    """A T-SQL identifier: ``[name]`` with ``]`` doubled."""
    return "[" + name.replace("]", "]]") + "]"


def quote_string(text: str) -> str:
    """A T-SQL Unicode string literal with ``'`` doubled."""
    return "N'" + text.replace("'", "''") + "'"


_LOGIN = re.compile(r"Msg 18456|Login failed", re.IGNORECASE)
_DOWN = re.compile(r"Login timeout expired|TCP Provider|Named Pipes Provider|server was not found|"
                   r"Unable to complete login process|network-related", re.IGNORECASE)


class Sqlcmd:
    def __init__(self, settings: MssqlSettings, timeout: int = 120) -> None:
        self.settings = settings
        self.timeout = timeout
        found = shutil.which("sqlcmd")
        if not found:
            raise ModeError("sqlcmd is not installed: install mssql-tools18 (or go-sqlcmd) to use --mode mssql")
        self.tool = found

    def _argv(self, sql: str, *extra: str) -> list[str]:
        argv = [self.tool, "-S", self.settings.server, "-b", "-l", str(min(self.timeout, 60)), *extra]
        argv += ["-U", self.settings.user] if self.settings.user else ["-E"]
        return [*argv, "-Q", sql]

    def _run(self, argv: list[str]) -> str:
        env = dict(os.environ)
        env.pop("SQLCMDPASSWORD", None)
        if self.settings.password:
            env["SQLCMDPASSWORD"] = self.settings.password
        try:
            done = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                  check=False)
        except OSError as exc:
            raise ModeError(f"could not run sqlcmd: {exc.strerror}") from None
        if done.returncode != 0:
            text = (done.stderr + "\n" + done.stdout).strip()
            server = self.settings.server
            if _LOGIN.search(text):
                raise ModeError(f"SQL Server {server} refused the login (wrong user or password): fix "
                                f"--sql-server-conf {self.settings.source}")
            if _DOWN.search(text):
                raise ModeError(f"cannot reach SQL Server {server}: check it is running and server= in "
                                f"--sql-server-conf {self.settings.source}")
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            raise ModeError(f"sqlcmd failed on {server} (exit {done.returncode}): "
                            f"{lines[-1] if lines else 'no message'}")
        return done.stdout

    def execute(self, sql: str) -> None:
        self._run(self._argv(sql))

    def query(self, sql: str) -> list[str]:
        """One column of results, one value a line (``-h -1 -W``: no header, trimmed)."""
        return [ln.strip() for ln in self._run(self._argv(sql, "-h", "-1", "-W")).splitlines() if ln.strip()]
