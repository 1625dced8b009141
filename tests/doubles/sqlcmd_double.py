"""SqlcmdDouble: a TEST DOUBLE of ``sqlcmd`` in front of a SQL Server, for the mssql mode.

SQL Server cannot run on our machines; the mssql mode's boundary is the
``sqlcmd`` command line, so this double stands there.  :func:`install` puts an
executable ``sqlcmd`` in a directory (to prepend to PATH).  Each run appends
one JSON line to the log: its argv, whether SQLCMDPASSWORD was set, and the
query.  It answers like sqlcmd would: database names for the
``sys.databases`` query, a ``.bak`` file written for ``BACKUP DATABASE ... TO
DISK``, and real sqlcmd error texts with a non-zero exit for the behaviours
``login_failed``, ``down`` and ``fail_backup`` (set in the environment).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

DATABASES = ("hr", "shop")
ENV_LOG, ENV_BEHAVIOUR = "FREEZER_SQLCMD_DOUBLE_LOG", "FREEZER_SQLCMD_DOUBLE_BEHAVIOUR"


def install(bin_dir: Path) -> Path:
    """Write an executable ``sqlcmd`` into ``bin_dir`` that runs this double."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    exe = bin_dir / "sqlcmd"
    exe.write_text(f"#!{sys.executable}\nimport runpy, sys\nsys.path.insert(0, {str(Path(__file__).parents[2])!r})\n"
                   f"runpy.run_module('tests.doubles.sqlcmd_double', run_name='__main__')\n")
    exe.chmod(0o755)
    return exe


def calls(log: Path) -> list[dict[str, Any]]:
    """The runs recorded in ``log``, in order."""
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def main(argv: list[str]) -> int:
    query = argv[argv.index("-Q") + 1] if "-Q" in argv else ""
    behaviour = os.environ.get(ENV_BEHAVIOUR, "ok")
    with open(os.environ[ENV_LOG], "a", encoding="utf-8") as log:
        log.write(json.dumps({"argv": argv, "password_env": bool(os.environ.get("SQLCMDPASSWORD")),
                              "query": query}) + "\n")
    if behaviour == "down":
        print("Sqlcmd: Error: Microsoft ODBC Driver 18 for SQL Server : Login timeout expired.", file=sys.stderr)
        return 1
    if behaviour == "login_failed":
        print("Msg 18456, Level 14, State 1, Server db1, Line 1\nLogin failed for user 'sa'.")
        return 1
    if "sys.databases" in query:
        print("\n".join(DATABASES))
        return 0
    backup = re.match(r"BACKUP DATABASE \[(.+?)\] TO DISK = N'(.+?)'", query)
    if backup:
        if behaviour == "fail_backup":
            print("Msg 3201, Level 16, State 1, Server db1, Line 1\nCannot open backup device. "
                  "Operating system error 5(Access is denied.).\nMsg 3013, Level 16, State 1\n"
                  "BACKUP DATABASE is terminating abnormally.")
            return 1
        Path(backup.group(2)).write_bytes(b"MSSQL-BAK:" + backup.group(1).encode())
        print(f"Processed 360 pages for database '{backup.group(1)}'.\nBACKUP DATABASE successfully processed.")
        return 0
    if query.startswith("RESTORE DATABASE"):
        print("RESTORE DATABASE successfully processed.")
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
