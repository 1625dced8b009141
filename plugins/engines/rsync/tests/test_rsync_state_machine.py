"""A hypothesis state machine: mutate a tree, back it up after every step, restore every level.

Restoring levels 0..k into a fresh directory must give the tree exactly as it
was at step k: content, type, permissions, owners, mtimes (nanoseconds,
directories included), symlink targets and which paths are hard links of
each other.  Each level's engine state holds only what changed at it; after
every step the chain's states, merged, must equal a fresh level 0's state of
the tree (deletions, re-creations and files unchanged since an earlier level
included).
"""

from __future__ import annotations

import os
import random
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from freezer_engine_rsync import RsyncEngine
from freezer_engine_rsync.state import ChainState, StateReader
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from freezer_core.contract import Source
from freezer_core.testing.engine import odd_chunks, wait_for_newer_timestamps

BLOCK = 512
NAMES = ("f1", "f2", "f3", "x y", "é")
DIRS = ("", "a", "b", "a/c")
data = st.one_of(
    st.binary(max_size=64),
    st.builds(lambda seed, size: random.Random(seed).randbytes(size),
              st.integers(0, 1 << 16), st.integers(2 * BLOCK, 8 * BLOCK)),
)
"""Short edits, and files of several blocks (random bytes from a seed: cheap to generate and shrink)."""


def snapshot(root: Path) -> dict[str, Any]:
    """Every entry with all the metadata a restore promises, plus the hard-link groups."""
    entries: dict[str, tuple[object, ...]] = {}
    inodes: dict[int, list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            s = path.lstat()
            common = (stat.S_IFMT(s.st_mode), stat.S_IMODE(s.st_mode), s.st_uid, s.st_gid, s.st_mtime_ns)
            if stat.S_ISLNK(s.st_mode):
                entries[rel] = (*common, os.readlink(path))
            elif stat.S_ISREG(s.st_mode):
                entries[rel] = (*common, path.read_bytes())
                if s.st_nlink > 1:
                    inodes.setdefault(s.st_ino, []).append(rel)
            else:
                entries[rel] = common
    root_st = root.stat()
    return {"entries": entries, "links": sorted(sorted(g) for g in inodes.values() if len(g) > 1),
            "root": (stat.S_IMODE(root_st.st_mode), root_st.st_mtime_ns)}


class TreeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.base = Path(tempfile.mkdtemp(prefix="rsync-sm-"))
        self.src = self.base / "src"
        self.src.mkdir()
        self.engine = RsyncEngine({"rsync_block_size": BLOCK})
        self.levels: list[bytes] = []
        self.expected: list[dict[str, Any]] = []
        self.states: list[bytes] = []
        """Every level's engine state, level 0 first: each holds only what changed at its level."""
        self.backed_up_ns = 0

    # ------------------------------------------------------------ helpers

    def files(self) -> list[Path]:
        return sorted(p for p in self.src.rglob("*") if p.is_file() and not p.is_symlink())

    def touch_ready(self) -> None:
        wait_for_newer_timestamps(self.base, self.backed_up_ns)

    def target(self, directory: str, name: str) -> Path:
        parent = self.src / directory
        parent.mkdir(parents=True, exist_ok=True)
        path = parent / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        return path

    def backup(self) -> None:
        stream = self.engine.backup(Source(path=self.src), self.states or None)
        try:
            self.levels.append(b"".join(stream))
            self.states.append(stream.state())
        finally:
            stream.close()
        self.expected.append(snapshot(self.src))
        self.backed_up_ns = time.time_ns()
        self.check_merged_state()

    def check_merged_state(self) -> None:
        """The chain's delta states, merged, are exactly the state a fresh level 0 of the tree has."""
        stream = RsyncEngine({"rsync_block_size": BLOCK}).backup(Source(path=self.src), None)
        try:
            for _ in stream:
                pass
            full = list(StateReader(stream.state()))
        finally:
            stream.close()
        assert list(ChainState(self.states)) == full, f"merged state of level {len(self.states) - 1}"

    # ------------------------------------------------------------ steps (each followed by a backup)

    @initialize(content=data)
    def start(self, content: bytes) -> None:
        (self.src / "a").mkdir()
        (self.src / "a" / "f1").write_bytes(content)
        self.backup()

    @rule(directory=st.sampled_from(DIRS), name=st.sampled_from(NAMES), content=data)
    def create(self, directory: str, name: str, content: bytes) -> None:
        self.touch_ready()
        self.target(directory, name).write_bytes(content)
        self.backup()

    @precondition(lambda self: self.files())
    @rule(pick=st.integers(0, 100), content=data, where=st.sampled_from(["append", "insert", "overwrite"]),
          at=st.floats(0, 1))
    def edit(self, pick: int, content: bytes, where: str, at: float) -> None:
        path = self.files()[pick % len(self.files())]
        self.touch_ready()
        old = path.read_bytes()
        pos = int(len(old) * at)
        if where == "append":
            with path.open("ab") as f:
                f.write(content)
        elif where == "insert":
            with path.open("r+b") as f:  # in place, as an editor that keeps the inode (and its hard links)
                f.write(old[:pos] + content + old[pos:])
        else:
            with path.open("r+b") as f:
                f.seek(pos)
                f.write(content)
        self.backup()

    @precondition(lambda self: self.files())
    @rule(pick=st.integers(0, 100), at=st.floats(0, 1))
    def truncate(self, pick: int, at: float) -> None:
        path = self.files()[pick % len(self.files())]
        self.touch_ready()
        os.truncate(path, int(path.stat().st_size * at))
        self.backup()

    @precondition(lambda self: self.files())
    @rule(pick=st.integers(0, 100))
    def delete(self, pick: int) -> None:
        self.touch_ready()
        self.files()[pick % len(self.files())].unlink()
        self.backup()

    @precondition(lambda self: self.files())
    @rule(pick=st.integers(0, 100), directory=st.sampled_from(DIRS), name=st.sampled_from(NAMES))
    def rename(self, pick: int, directory: str, name: str) -> None:
        path = self.files()[pick % len(self.files())]
        self.touch_ready()
        if path != self.src / directory / (name + ".moved"):
            path.rename(self.target(directory, name + ".moved"))
        self.backup()

    @rule(pick=st.integers(0, 100), mode=st.sampled_from([0o600, 0o644, 0o755, 0o400, 0o700, 0o750]))
    def chmod(self, pick: int, mode: int) -> None:
        entries = [p for p in self.src.rglob("*") if not p.is_symlink()]
        if not entries:
            return
        path = sorted(entries)[pick % len(entries)]
        self.touch_ready()
        path.chmod(mode | (0o700 if path.is_dir() else 0))
        self.backup()

    @rule(directory=st.sampled_from(DIRS), name=st.sampled_from(NAMES), link=st.sampled_from(["f1", "../a/f1", "/x"]))
    def symlink(self, directory: str, name: str, link: str) -> None:
        self.touch_ready()
        self.target(directory, name + ".lnk").symlink_to(link)
        self.backup()

    @precondition(lambda self: self.files())
    @rule(pick=st.integers(0, 100), directory=st.sampled_from(DIRS), name=st.sampled_from(NAMES))
    def hardlink(self, pick: int, directory: str, name: str) -> None:
        path = self.files()[pick % len(self.files())]
        self.touch_ready()
        if path != self.src / directory / (name + ".hl"):
            os.link(path, self.target(directory, name + ".hl"))
        self.backup()

    @rule(directory=st.sampled_from(DIRS), name=st.sampled_from(["e1", "e2"]), owner=st.sampled_from([0, 1234]))
    def empty_dir(self, directory: str, name: str, owner: int) -> None:
        self.touch_ready()
        path = self.target(directory, name)
        path.mkdir()
        if os.geteuid() == 0:
            os.chown(path, owner, owner)
        self.backup()

    @rule(directory=st.sampled_from(["a", "b", "a/c"]))
    def remove_dir(self, directory: str) -> None:
        self.touch_ready()
        shutil.rmtree(self.src / directory, ignore_errors=True)
        self.backup()

    # ------------------------------------------------------------ the check

    def teardown(self) -> None:
        try:
            for k, expected in enumerate(self.expected):
                out = self.base / f"out{k}"
                engine = RsyncEngine({"rsync_block_size": BLOCK})
                for level in range(k + 1):
                    engine.restore(odd_chunks(self.levels[level]), out, level)
                assert snapshot(out) == expected, f"level {k} differs"
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


TreeMachine.TestCase.settings = settings(
    max_examples=20, stateful_step_count=10, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestTreeMachine = TreeMachine.TestCase
