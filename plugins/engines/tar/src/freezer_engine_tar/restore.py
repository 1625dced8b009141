"""The restore side: feed one level's stream to ``tar --extract --incremental``.

tar reads from a pipe we write to.  When tar dies early (a corrupted stream),
our next write fails with a broken pipe; what the user needs then is tar's own
message, so the pipe error is swallowed and tar's exit status and stderr are
reported instead.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from freezer_core.errors import EngineError
from freezer_engine_tar import argv as tar_argv
from freezer_engine_tar.proc import child_env, last_error, stderr_lines, stop

log = logging.getLogger("freezer.engine.tar")


def restore_level(tar: str, chunks: Iterable[bytes], target: Path, level: int, *, dry_run: bool) -> None:
    """Apply one level to ``target``; with ``dry_run`` only list what it holds."""
    argv = tar_argv.restore_argv(tar, str(target), list_only=dry_run)
    log.debug("running %s", argv)
    with tempfile.TemporaryFile() as stderr, tempfile.TemporaryFile() as stdout:
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=stdout, stderr=stderr, env=child_env()
            )
        except OSError as exc:
            raise EngineError(f"could not start {tar}: {exc.strerror}; check GNU tar is installed") from exc
        complete = _feed(proc, chunks)
        rc = proc.wait()
        if rc != 0:
            raise EngineError(
                f"tar could not restore level {level} into {target} (exit {rc}):"
                f" {last_error(stderr_lines(stderr))}; check the backup and the target directory"
            )
        if not complete:
            raise EngineError(
                f"tar stopped reading level {level} before its end: the backup stream is damaged"
            )
        if dry_run:
            _log_listing(stdout, level, target)


def _feed(proc: subprocess.Popen[bytes], chunks: Iterable[bytes]) -> bool:
    """Write every chunk to tar's stdin; False when tar closed it first (it died or stopped).

    Any failure of the chunk source (decryption, storage) kills tar before it
    propagates, so no process outlives the restore.
    """
    stdin = proc.stdin
    assert stdin is not None
    try:
        for chunk in chunks:
            stdin.write(chunk)
        stdin.close()
    except BrokenPipeError:
        _close_quietly(stdin)
        return False
    except BaseException:
        _close_quietly(stdin)
        stop(proc)
        raise
    return True


def _close_quietly(stdin: IO[bytes]) -> None:
    try:
        stdin.close()
    except BrokenPipeError:
        pass  # close flushes the buffer, which fails the same way once tar is gone


def _log_listing(stdout: IO[bytes], level: int, target: Path) -> None:
    stdout.seek(0)
    count = 0
    for line in stdout:
        if line.strip():
            count += 1
            log.debug("dry run: %s", line.rstrip(b"\n").decode("utf-8", "replace"))
    log.info("dry run: level %d holds %d entries that would be restored into %s", level, count, target)
