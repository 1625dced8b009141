"""The tree walk: every entry below the source, depth first, children sorted by name.

The order is the contract between a backup and the previous level's state
(both are sorted the same way, so they are compared in one pass), and it puts
every directory before its content, which restore relies on.  Names are
bytes, so file names that are not valid UTF-8 are backed up unchanged.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

log = logging.getLogger("freezer.engine.rsync")


@dataclass(slots=True)
class Node:
    rel: bytes
    """Path relative to the source root, ``/``-separated; ``b""`` is the root directory itself."""
    path: bytes
    st: os.stat_result


def walk(source: bytes, *, exclude: str | None = None, dereference: bool = False) -> Iterator[Node]:
    """Entries of ``source`` in walk order; a single file yields itself under its own name.

    Like ``tar --one-file-system``, directories on other file systems are
    recorded but not entered.  Entries that vanish or cannot be read while
    walking are skipped with a warning, as a live tree changes under any
    backup.
    """
    st = os.lstat(source)
    if not stat.S_ISDIR(st.st_mode):
        name = os.path.basename(source.rstrip(b"/"))
        yield Node(name, source, _deref(source, st) if dereference else st)
        return
    yield Node(b"", source, st)
    root_dev = st.st_dev
    stack: list[Iterator[tuple[bytes, bytes]]] = [_children(source, b"")]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        rel, path = item
        if exclude and _excluded(rel, exclude):
            continue
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            log.warning("%s vanished while backing up: skipped", os.fsdecode(path))
            continue
        if dereference and stat.S_ISLNK(st.st_mode):
            st = _deref(path, st)
        yield Node(rel, path, st)
        if stat.S_ISDIR(st.st_mode) and st.st_dev == root_dev:
            stack.append(_children(path, rel))


def _children(path: bytes, rel: bytes) -> Iterator[tuple[bytes, bytes]]:
    try:
        names = sorted(os.listdir(path))
    except FileNotFoundError:
        return
    except PermissionError:
        log.warning("%s: permission denied, its content is skipped", os.fsdecode(path))
        return
    for name in names:
        yield (rel + b"/" + name if rel else name), os.path.join(path, name)


def _deref(path: bytes, st: os.stat_result) -> os.stat_result:
    """Follow a symlink to a regular file (``--dereference-symlink soft``); others stay links."""
    try:
        target = os.stat(path)
    except OSError:
        return st
    return target if stat.S_ISREG(target.st_mode) else st


def _excluded(rel: bytes, pattern: str) -> bool:
    text = os.fsdecode(rel)
    return fnmatch.fnmatch(text, pattern) or fnmatch.fnmatch(text.rsplit("/", 1)[-1], pattern)
