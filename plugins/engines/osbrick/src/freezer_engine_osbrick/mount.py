"""A block device or image file mounted in a private directory, and always released.

An image file is given a loop device first (read-write, so that a file system
left dirty by a crash-consistent snapshot can replay its journal while the
mount itself stays read-only).  Everything set up is undone, newest first, when
the block ends, however it ends.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from freezer_core.errors import EngineError

LOG = logging.getLogger("freezer.engine.osbrick")
FILESYSTEM = "ext4"
"""What a volume without a file system is given at restore (as upstream Freezer does)."""


def run(argv: list[str], what: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    except FileNotFoundError:
        raise EngineError(f"{what}: {argv[0]} is not installed (it comes with util-linux / e2fsprogs)") from None
    if done.returncode != 0:
        detail = " ".join((done.stderr or done.stdout).split())[:300]
        hint = "" if os.geteuid() == 0 else " (attaching and mounting volumes needs root)"
        raise EngineError(f"{what} failed: {detail or f'exit {done.returncode}'}{hint}")
    return done.stdout.strip()


def filesystem_of(device: str) -> str | None:
    """The file system type on ``device``, or None when there is none."""
    done = subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE", device], capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() or None if done.returncode == 0 else None


class Mounted:
    """``with Mounted(path, read_only=True) as directory:`` -- the file system on ``path``, mounted."""

    def __init__(self, path: Path, *, read_only: bool, make_filesystem: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.make_filesystem = make_filesystem
        self.loop: str | None = None
        self.directory: Path | None = None
        self._mounted = False

    def __enter__(self) -> Path:
        try:
            return self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> Path:
        try:
            mode = os.stat(self.path).st_mode
        except OSError as exc:
            raise EngineError(f"volume {self.path} is not attached here: {exc.strerror}") from None
        if stat.S_ISBLK(mode):
            device = str(self.path)
        elif stat.S_ISREG(mode):
            self.loop = run(["losetup", "--find", "--show", str(self.path)], f"giving {self.path} a loop device")
            device = self.loop
        else:
            raise EngineError(f"{self.path} is neither a block device nor an image file: the osbrick engine "
                              f"backs up an attached volume (use --mode cinderbrick)")
        found = filesystem_of(device)
        if found is None and self.make_filesystem:
            LOG.info("making an %s file system on %s", FILESYSTEM, self.path)
            run([f"mkfs.{FILESYSTEM}", "-q", "-F", device], f"mkfs.{FILESYSTEM} {self.path}")
        elif found is None:
            raise EngineError(f"volume {self.path} holds no file system Linux can mount: back it up with "
                              f"--mode cinder (the whole volume) instead")
        self.directory = Path(tempfile.mkdtemp(prefix="freezer-osbrick-"))
        run(["mount", "-o", "ro" if self.read_only else "rw", device, str(self.directory)],
            f"mounting {self.path}")
        self._mounted = True
        LOG.info("mounted %s (%s) on %s", self.path, device, self.directory)
        return self.directory

    def close(self) -> None:
        """Unmount, remove the directory, free the loop device; each step is tried even if one fails."""
        errors = []
        if self._mounted and self.directory is not None:
            try:
                run(["umount", str(self.directory)], f"unmounting {self.directory}")
                self._mounted = False
            except EngineError as exc:
                errors.append(exc)
        if self.directory is not None and not self._mounted:
            try:
                self.directory.rmdir()
            except OSError as exc:
                errors.append(EngineError(f"removing {self.directory}: {exc.strerror}"))
            self.directory = None
        if self.loop is not None and not self._mounted:
            try:
                run(["losetup", "--detach", self.loop], f"freeing loop device {self.loop}")
                self.loop = None
            except EngineError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.close()
        except EngineError as error:
            if exc is None:
                raise
            LOG.error("%s", error)  # the error that ended the block is the one to report
