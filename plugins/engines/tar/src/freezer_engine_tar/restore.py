"""The restore side: feed one level's stream to ``tar --extract --incremental``."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from freezer_core.errors import EngineError
from freezer_core.procstream import feed_command
from freezer_engine_tar import argv as tar_argv
from freezer_engine_tar.proc import child_env, last_error

log = logging.getLogger("freezer.engine.tar")


def restore_level(tar: str, chunks: Iterable[bytes], target: Path, level: int, *, dry_run: bool) -> None:
    """Apply one level to ``target``; with ``dry_run`` only list what it holds."""
    argv = tar_argv.restore_argv(tar, str(target), list_only=dry_run)
    log.debug("running %s", argv)

    def check(rc: int, lines: list[str]) -> None:
        if rc != 0:
            raise EngineError(f"tar could not restore level {level} into {target} (exit {rc}):"
                              f" {last_error(lines)}; check the backup and the target directory")

    with tempfile.TemporaryFile() as listing:
        feed_command(argv, chunks, tool="tar", env=child_env(), check=check, stdout=listing)
        if dry_run:
            _log_listing(listing, level, target)


def _log_listing(stdout: IO[bytes], level: int, target: Path) -> None:
    stdout.seek(0)
    count = 0
    for line in stdout:
        if line.strip():
            count += 1
            log.debug("dry run: %s", line.rstrip(b"\n").decode("utf-8", "replace"))
    log.info("dry run: level %d holds %d entries that would be restored into %s", level, count, target)
