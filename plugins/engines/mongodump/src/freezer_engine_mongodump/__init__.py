"""mongodump engine: a MongoDB node streamed as a ``mongodump --archive``.

Backup runs ``mongodump --archive`` and hands its stdout to the pipeline, so
nothing is staged on local disk and the node is never locked.  On a replica
set member ``--oplog`` is added: the dump is then consistent as of its end,
once ``mongorestore --oplogReplay`` replays the oplog captured during it.

The stored stream starts with a small header of ours (``FRZMDUMP1`` and a
flags byte) saying whether the oplog was captured, so restore knows whether
to replay it without reading the archive twice.

Credentials never appear on a command line: the URI goes to the tools in a
private (0600) ``--config`` file that is removed when they exit.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from freezer_core.contract import BackupStream, Engine, Options, Source
from freezer_core.errors import EngineError, IntegrityError
from freezer_core.procstream import CommandStream, feed_command

__all__ = ["MongodumpEngine"]

LOG = logging.getLogger("freezer.engine.mongodump")
MAGIC = b"FRZMDUMP1"
WITH_OPLOG = 1


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise EngineError(f"{name} is not installed: install the MongoDB database tools to use --engine mongodump")
    return found


@contextlib.contextmanager
def uri_config(uri: str) -> Iterator[Path]:
    """A private ``--config`` file holding the connection URI, removed afterwards."""
    fd, name = tempfile.mkstemp(prefix="freezer-mongo-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(f"uri: {json.dumps(uri)}\n")  # a JSON string is a valid YAML scalar
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


class MongodumpEngine(Engine):
    name = "mongodump"
    supports_incremental = False
    reads_path = False  # the server at --mongodb-uri, not --path-to-backup
    writes_path = False  # mongorestore writes to that server: no restore target

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.uri = str(options.get("mongodb_uri") or "mongodb://localhost:27017")

    def backup(self, source: Source, previous_state: bytes | None) -> BackupStream:
        tool = _tool("mongodump")
        oplog = bool(source.extra.get("mongodb_replica_set"))
        stack = contextlib.ExitStack()
        config = stack.enter_context(uri_config(self.uri))
        argv = [tool, f"--config={config}", "--archive"] + (["--oplog"] if oplog else [])
        LOG.info("streaming mongodump%s", " with the oplog" if oplog else "")
        return CommandStream(argv, tool="mongodump", cleanup=stack.close,
                             header=MAGIC + bytes([WITH_OPLOG if oplog else 0]))

    def restore(self, chunks: Iterable[bytes], target: Path, level: int) -> None:
        stream = iter(chunks)
        head = b""
        for chunk in stream:
            head += chunk
            if len(head) > len(MAGIC):
                break
        if not head.startswith(MAGIC) or len(head) <= len(MAGIC):
            raise IntegrityError("this backup is not a mongodump archive written by Freezer: restore it with the "
                                 "engine that made it")
        flags, rest = head[len(MAGIC)], head[len(MAGIC) + 1:]
        if self.options.get("dry_run"):
            LOG.info("dry run: would mongorestore%s into %s", " with oplog replay" if flags & WITH_OPLOG else "",
                     self.uri.split("@")[-1])
            return
        with uri_config(self.uri) as config:
            argv = [_tool("mongorestore"), f"--config={config}", "--archive", "--drop"]
            if flags & WITH_OPLOG:
                argv.append("--oplogReplay")
            feed_command(argv, _prepend(rest, stream), tool="mongorestore")


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest
