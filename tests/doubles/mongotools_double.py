"""MongoToolsDouble: TEST DOUBLES of ``mongodump`` and ``mongorestore`` (the MongoDB database tools).

The tools cannot be installed on our machines, so the mongodump engine is
tested at their command-line boundary.  :func:`install` writes executable
``mongodump`` and ``mongorestore`` into a directory (to prepend to PATH).
Each run appends one JSON line to the log: the tool, its argv and the URI it
found in its ``--config`` file.  ``mongodump`` writes an archive made of the
archive magic number and the bytes of ``$FREEZER_MONGOTOOLS_DOUBLE_DATA``;
``mongorestore`` stores what it reads on stdin in
``$FREEZER_MONGOTOOLS_DOUBLE_RESTORED``.  ``$FREEZER_MONGOTOOLS_DOUBLE_FAIL``
set to a tool name makes that tool fail like the real one does.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ARCHIVE_MAGIC = bytes.fromhex("6de29981")  # the magic number that starts a real mongodump archive
ENV_LOG, ENV_DATA = "FREEZER_MONGOTOOLS_DOUBLE_LOG", "FREEZER_MONGOTOOLS_DOUBLE_DATA"
ENV_RESTORED, ENV_FAIL = "FREEZER_MONGOTOOLS_DOUBLE_RESTORED", "FREEZER_MONGOTOOLS_DOUBLE_FAIL"


def install(bin_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    root = str(Path(__file__).parents[2])
    for tool in ("mongodump", "mongorestore"):
        exe = bin_dir / tool
        exe.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {root!r})\n"
                       f"from tests.doubles.mongotools_double import main\nsys.exit(main({tool!r}, sys.argv[1:]))\n")
        exe.chmod(0o755)


def calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _uri(argv: list[str]) -> str | None:
    config = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
    if config is None:
        return None
    for line in Path(config).read_text().splitlines():
        if line.startswith("uri:"):
            return str(json.loads(line[4:].strip()))
    return None


def main(tool: str, argv: list[str]) -> int:
    with open(os.environ[ENV_LOG], "a", encoding="utf-8") as log:
        log.write(json.dumps({"tool": tool, "argv": argv, "uri": _uri(argv)}) + "\n")
    if os.environ.get(ENV_FAIL) == tool:
        print(f"{tool}: error connecting to host: server selection error: connection refused", file=sys.stderr)
        return 1
    if tool == "mongodump":
        sys.stdout.buffer.write(ARCHIVE_MAGIC + Path(os.environ[ENV_DATA]).read_bytes())
        return 0
    Path(os.environ[ENV_RESTORED]).write_bytes(sys.stdin.buffer.read())
    return 0
