"""Build directory trees from a spec and compare trees by content and metadata.

Engine and mode tests all need the same two things: a tree with the awkward
cases in it (empty directories, symlinks, executable bits, old mtimes) and a
way to say "the restored tree is the original, byte for byte".  Both live here
so every plugin tests the same way.

The spec is a flat mapping of ``/``-separated relative paths to entries::

    {
        "docs/readme.txt": b"hello",                        # regular file, default mode
        "bin/run.sh": File(b"#!/bin/sh\\n", mode=0o755, mtime=1_600_000_000),
        "cache": Dir(),                                      # empty directory
        "private": Dir(mode=0o700),
        "current": Symlink("docs/readme.txt"),
    }

Parent directories are created as needed.  ``tree_state`` turns a directory
back into a mapping of relative path to a tuple (see :func:`tree_state`), so
two trees are equal exactly when their states are equal.
"""

from __future__ import annotations

import hashlib
import os
import random
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Dir", "Entry", "File", "Symlink", "make_tree", "random_tree", "tree_state"]


@dataclass(frozen=True)
class File:
    """A regular file; ``mode`` and ``mtime`` (epoch seconds) are left to the system when None."""

    content: bytes = b""
    mode: int | None = None
    mtime: float | None = None


@dataclass(frozen=True)
class Dir:
    """A directory (empty unless other entries live below it)."""

    mode: int | None = None
    mtime: float | None = None


@dataclass(frozen=True)
class Symlink:
    """A symbolic link; ``target`` is stored verbatim, so it may dangle or be absolute."""

    target: str


Entry = bytes | File | Dir | Symlink
"""What a spec maps a path to; plain ``bytes`` is shorthand for ``File(bytes)``."""


def make_tree(root: Path, spec: Mapping[str, Entry]) -> Path:
    """Create ``spec`` below ``root`` (created if missing) and return ``root``.

    Metadata is applied after all content exists, and directory mtimes last and
    deepest first, because creating a child changes its parent's mtime.
    """
    root.mkdir(parents=True, exist_ok=True)
    dirs: list[tuple[Path, Dir]] = []
    for rel, entry in sorted(spec.items()):
        path = root / _checked(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(entry, bytes):
            entry = File(entry)
        if isinstance(entry, File):
            path.write_bytes(entry.content)
            if entry.mode is not None:
                path.chmod(entry.mode)
            if entry.mtime is not None:
                os.utime(path, (entry.mtime, entry.mtime))
        elif isinstance(entry, Symlink):
            path.symlink_to(entry.target)
        elif isinstance(entry, Dir):
            path.mkdir(exist_ok=True)
            dirs.append((path, entry))
        else:
            raise TypeError(f"unknown tree entry for {rel!r}: {entry!r}")
    for path, entry in sorted(dirs, key=lambda item: len(item[0].parts), reverse=True):
        if entry.mode is not None:
            path.chmod(entry.mode)
        if entry.mtime is not None:
            os.utime(path, (entry.mtime, entry.mtime))
    return root


def tree_state(root: Path) -> dict[str, tuple[object, ...]]:
    """Describe every entry below ``root`` (not ``root`` itself), keyed by relative path.

    * directory: ``("dir", mode)``
    * regular file: ``("file", mode, size, sha256 hex, mtime in whole seconds)``
    * symlink: ``("symlink", target)``
    * anything else: ``("other", file type bits, mode)``

    ``mode`` is the permission bits (``0o7777``).  Owners, atimes, ctimes and
    directory mtimes are left out: they are not preserved by every restore
    (extracting into a directory changes its mtime) and would make equal trees
    look different.
    """
    state: dict[str, tuple[object, ...]] = {}
    _walk(root, root, state)
    return dict(sorted(state.items()))


def _walk(root: Path, directory: Path, state: dict[str, tuple[object, ...]]) -> None:
    with os.scandir(directory) as entries:
        for entry in entries:
            path = Path(entry.path)
            rel = path.relative_to(root).as_posix()
            st = entry.stat(follow_symlinks=False)
            perms = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                state[rel] = ("symlink", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                state[rel] = ("dir", perms)
                _walk(root, path, state)
            elif stat.S_ISREG(st.st_mode):
                state[rel] = ("file", perms, st.st_size, _sha256(path), int(st.st_mtime))
            else:
                state[rel] = ("other", stat.S_IFMT(st.st_mode), perms)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked(rel: str) -> str:
    """Refuse paths that would escape the root: a test spec must never touch the system."""
    parts = rel.split("/")
    if rel.startswith("/") or ".." in parts or not rel or "" in parts:
        raise ValueError(f"tree spec paths must be relative and normalised, got {rel!r}")
    return rel


def random_tree(
    seed: int, *, files: int = 30, max_depth: int = 3, max_size: int = 64 * 1024
) -> dict[str, Entry]:
    """A reproducible random spec: nested files of random sizes, empty dirs, symlinks, modes.

    Sizes cluster around the awkward ones (0, tar's 512-byte blocks) as well as
    random ones, and mtimes are whole seconds in the past so that restored
    trees compare equal.
    """
    rng = random.Random(seed)
    dirs = [""]
    for _ in range(max(1, files // 5)):
        parent = rng.choice(dirs)
        if parent.count("/") + 1 < max_depth:
            dirs.append(f"{parent}d{len(dirs)}/" if parent else f"d{len(dirs)}/")
    spec: dict[str, Entry] = {}
    for i in range(files):
        size = rng.choice([0, 1, 511, 512, 513, rng.randrange(max_size + 1)])
        spec[f"{rng.choice(dirs)}f{i}.bin"] = File(
            rng.randbytes(size),
            mode=rng.choice([0o644, 0o600, 0o755, 0o444]),
            mtime=rng.randrange(1_000_000_000, 1_700_000_000),
        )
    for d in dirs[1:]:
        if not any(path.startswith(d) for path in spec):
            spec[d.rstrip("/")] = Dir(mode=rng.choice([0o755, 0o700]))
    file_paths = sorted(p for p, e in spec.items() if isinstance(e, File))
    for i in range(rng.randrange(3)):
        spec[f"link{i}"] = Symlink(rng.choice(file_paths))
    return spec
