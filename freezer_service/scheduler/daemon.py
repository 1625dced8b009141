"""Daemon plumbing: a locked pid file, the double fork, and stop/status through the pid file.

The pid file is locked (``flock``) for as long as the scheduler lives, so a
stale file left by a crash never blocks a start and two schedulers never
share one pid file.  ``--no-daemon`` keeps the process in the foreground
(systemd ``Type=simple``, containers) with the same pid file and signals.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import time
from pathlib import Path
from typing import IO

from freezer_core.errors import FreezerError
from freezer_service.scheduler.runner import alive


class PidFile:
    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        """Lock the pid file and write our pid; fails if a live scheduler holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise FreezerError(f"freezer-scheduler is already running (pid {self.read()}, pid file "
                               f"{self.path}): stop it first, or use another --pidfile") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            self.path.unlink(missing_ok=True)
            self._fh.close()
            self._fh = None

    def read(self) -> int | None:
        try:
            return int(self.path.read_text().strip())
        except (OSError, ValueError):
            return None

    def running(self) -> int | None:
        """The pid of the live scheduler holding the file, or ``None``."""
        try:
            fh = open(self.path)
        except OSError:
            return None
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return self.read()
        return None

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM the running scheduler and wait until it has exited; its pid or None.

        Why not only the lock: the scheduler releases its pid file before the
        interpreter shuts down, so "stopped" would be printed (and ``restart``
        would start the next one) while the old process still runs.
        """
        pid = self.running()
        if pid is None:
            return None
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.running() is None and not alive(pid, None):
                return pid
            time.sleep(0.1)
        raise FreezerError(f"freezer-scheduler (pid {pid}) did not stop within {timeout:.0f} s")


def daemonize(log_path: str) -> None:
    """Detach: double fork, new session, stdio to /dev/null and the log file."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir("/")
    os.umask(0o077)
    sys.stdout.flush()
    sys.stderr.flush()
    null = os.open(os.devnull, os.O_RDWR)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
