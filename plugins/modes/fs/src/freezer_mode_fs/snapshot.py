"""File-system snapshots for the fs mode.

A :class:`SnapshotProvider` freezes the file system holding a path and
exposes the frozen copy as a directory.  ``snapshot_for`` picks the provider
from where the path lives: a btrfs subvolume gets a read-only btrfs
snapshot, a path on an LVM logical volume gets an LVM snapshot mounted
read-only (the options and defaults of upstream Freezer's ``--lvm-*``).
Every provider removes what it created, whatever happens in between.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import os
import re
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from freezer_core.errors import ModeError

LOG = logging.getLogger("freezer.mode.fs.snapshot")


def _run(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise ModeError(f"{argv[0]} is not installed: it is needed for --snapshot") from None
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or exc.stdout or "").strip().splitlines()
        raise ModeError(f"{' '.join(argv[:3])} failed: {detail[-1] if detail else exc.returncode}") from None
    return done.stdout


def mount_of(path: Path) -> tuple[str, str, str]:
    """(device, mount point, fs type) of the mount holding ``path``."""
    best = ("", "/", "")
    with open("/proc/mounts") as mounts:
        for line in mounts:
            dev, mnt, fstype = line.split()[:3]
            mnt = mnt.replace("\\040", " ")
            if (path == Path(mnt) or Path(mnt) in path.parents) and len(mnt) >= len(best[1]):
                best = (dev, mnt, fstype)
    return best


class SnapshotProvider(abc.ABC):
    """Makes a frozen, read-only view of the file system holding a path."""

    name: str

    def __init__(self, path: Path, options: Mapping[str, Any]) -> None:
        self.path = path
        self.options = options

    @abc.abstractmethod
    def snapshot(self) -> contextlib.AbstractContextManager[Path]:
        """Yield where ``self.path`` can be read frozen; always clean up."""


class BtrfsSnapshot(SnapshotProvider):
    """A read-only btrfs snapshot of the mounted subvolume holding the path.

    Nested subvolumes are not part of a btrfs snapshot: back them up separately.
    """

    name = "btrfs"

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Path]:
        root = Path(mount_of(self.path)[1])
        snap = root / f".freezer_snap_{uuid.uuid4().hex[:12]}"
        _run(["btrfs", "subvolume", "snapshot", "-r", str(root), str(snap)])
        try:
            yield snap / self.path.relative_to(root)
        finally:
            try:
                _run(["btrfs", "subvolume", "delete", str(snap)])
            except ModeError as exc:
                LOG.error("could not remove snapshot %s: %s", snap, exc)


class LvmSnapshot(SnapshotProvider):
    """An LVM snapshot of the logical volume holding the path, mounted read-only.

    Options as upstream: ``lvm_srcvol``, ``lvm_volgroup`` (guessed from the
    mount), ``lvm_snapname``, ``lvm_snapsize`` (``1G``; ``N%`` uses extents),
    ``lvm_snap_perm`` (ro/rw), ``lvm_dirmount``.
    """

    name = "lvm"

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Path]:
        dev, mnt, fstype = mount_of(self.path)
        srcvol = self.options.get("lvm_srcvol") or dev
        match = re.match(r"/dev/mapper/(.+?)-(?!-)(.+)$", srcvol)
        vg = self.options.get("lvm_volgroup") or (match.group(1).replace("--", "-") if match else "")
        if not vg:
            raise ModeError(f"cannot tell the LVM volume group of {self.path}: give --lvm-volgroup "
                            f"and --lvm-srcvol")
        name = self.options.get("lvm_snapname") or f"freezer_backup_snap_{uuid.uuid4().hex}"
        size = str(self.options.get("lvm_snapsize") or "1G")
        size_arg = ["--extents", size] if size.endswith("%") else ["--size", size]
        perm = "r" if (self.options.get("lvm_snap_perm") or "ro") == "ro" else "rw"
        mount_dir = Path(self.options.get("lvm_dirmount") or
                         tempfile.mkdtemp(prefix="freezer_mount_", dir="/var/lib/freezer"
                                          if os.path.isdir("/var/lib/freezer") else None))
        _run(["lvcreate", *size_arg, "--snapshot", "--permission", perm, "--name", name, srcvol])
        snap_dev = f"/dev/{vg}/{name}"
        try:
            mount_dir.mkdir(parents=True, exist_ok=True)
            opts = "nouuid,ro,norecovery" if fstype == "xfs" else ("ro" if perm == "r" else "rw")
            _run(["mount", "-o", opts, snap_dev, str(mount_dir)])
            try:
                yield mount_dir / self.path.relative_to(mnt)
            finally:
                _run(["umount", "-l", "-f", str(mount_dir)])
        finally:
            _run(["lvremove", "-f", snap_dev])


PROVIDERS: dict[str, type[SnapshotProvider]] = {"btrfs": BtrfsSnapshot, "lvm": LvmSnapshot}


def snapshot_for(path: Path, options: Mapping[str, Any]) -> contextlib.AbstractContextManager[Path]:
    """The snapshot of ``path`` from the provider its file system calls for."""
    dev, _, fstype = mount_of(path)
    if fstype == "btrfs":
        provider: SnapshotProvider = BtrfsSnapshot(path, options)
    elif options.get("lvm_srcvol") or dev.startswith("/dev/mapper/"):
        provider = LvmSnapshot(path, options)
    else:
        raise ModeError(f"--snapshot: {path} is on {fstype or 'an unknown file system'} ({dev}), which "
                        f"has no snapshot provider (btrfs and LVM are supported)")
    return provider.snapshot()
