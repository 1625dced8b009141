"""The delta engine state: each level stores only what changed, the chain's states merge into the full picture."""

from __future__ import annotations

import os
import random
import struct
import time
from pathlib import Path

import pytest
import zstandard
from freezer_engine_rsync import RsyncEngine
from freezer_engine_rsync.format import DIR, STATE_HEADER, STATE_MAGIC, STATE_VERSION_FIELD
from freezer_engine_rsync.state import ChainState, StateEntry, StateReader

from freezer_core.contract import Source
from freezer_core.errors import IntegrityError
from freezer_core.testing.engine import odd_chunks, wait_for_newer_timestamps
from freezer_core.testing.trees import Dir, File, make_tree, tree_state


def engine() -> RsyncEngine:
    return RsyncEngine({"rsync_block_size": 1024})


def run_backup(path: Path, states: list[bytes]) -> tuple[bytes, bytes]:
    stream = engine().backup(Source(path=path), states or None)
    try:
        return b"".join(stream), stream.state()
    finally:
        stream.close()


def entries(states: list[bytes]) -> list[StateEntry]:
    return list(ChainState(states))


def full_entries(path: Path) -> list[StateEntry]:
    """The state a fresh level 0 of the tree has: what the chain's merged states must equal."""
    return list(StateReader(run_backup(path, [])[1]))


def restore_all(levels: list[bytes], out: Path) -> dict[str, object]:
    restorer = engine()
    for level, data in enumerate(levels):
        restorer.restore(odd_chunks(data), out, level)
    return tree_state(out)


def many_files(root: Path) -> Path:
    rng = random.Random(7)
    spec: dict[str, object] = {f"d{i % 10}/f{i:03d}": File(rng.randbytes(8192)) for i in range(200)}
    spec["empty"] = Dir()
    return make_tree(root, spec)


def test_a_level_stores_only_what_changed(tmp_path: Path) -> None:
    src = many_files(tmp_path / "src")
    _, state0 = run_backup(src, [])
    wait_for_newer_timestamps(tmp_path, time.time_ns())
    (src / "d3" / "f003").write_bytes(b"changed at level 1")
    _, state1 = run_backup(src, [state0])
    wait_for_newer_timestamps(tmp_path, time.time_ns())
    with (src / "d5" / "f005").open("ab") as f:
        f.write(b"appended at level 2")
    _, state2 = run_backup(src, [state0, state1])
    # level 0: 200 files x 8 blocks of signatures; level 2: one file and its directory
    assert len(state2) * 20 < len(state0)
    changed = [e.rel for e in StateReader(state2)]
    assert changed == [b"d5/f005"]
    assert entries([state0, state1, state2]) == full_entries(src)


def test_changes_and_deletions_across_levels_merge_and_restore(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"keep": b"k" * 5000, "a/once": b"1" * 3000, "a/twice": b"2",
                                       "gone/x": b"x", "back": b"first life"})
    levels, states, trees = [], [], []

    def level() -> None:
        data, state = run_backup(src, states)
        levels.append(data)
        states.append(state)
        trees.append(tree_state(src))
        assert entries(states) == full_entries(src), f"merged state of level {len(states) - 1}"
        wait_for_newer_timestamps(tmp_path, time.time_ns())

    level()
    (src / "a" / "once").write_bytes(b"1" * 1000 + b"changed at level 1" + b"1" * 2000)  # then unchanged
    (src / "back").unlink()
    for name in ("x",):
        (src / "gone" / name).unlink()
    (src / "gone").rmdir()
    level()
    (src / "back").write_bytes(b"second life")  # deleted at 1, back at 2
    (src / "a" / "twice").write_bytes(b"2 again")
    (src / "gone").mkdir()
    level()
    (src / "a" / "twice").unlink()  # changed at 2, deleted at 3
    os.symlink("keep", src / "link")
    level()
    for k in range(len(levels)):
        assert restore_all(levels[: k + 1], tmp_path / f"out{k}") == trees[k], f"level {k}"
    assert [e.rel for e in StateReader(states[3]) if e.rel.startswith(b"a/")] == [b"a/twice"]


def test_a_version_1_state_is_still_read(tmp_path: Path) -> None:
    """States written before deltas held every entry: an increment made on one works, and merges above it."""
    src = many_files(tmp_path / "src")
    level0, state0 = run_backup(src, [])
    v1 = as_version_1(state0)
    assert list(StateReader(v1)) == list(StateReader(state0))
    wait_for_newer_timestamps(tmp_path, time.time_ns())
    (src / "d1" / "f001").write_bytes(b"changed")
    level1, state1 = run_backup(src, [v1])  # a single complete state, as the old core handed it
    wait_for_newer_timestamps(tmp_path, time.time_ns())
    (src / "d2" / "f002").unlink()
    level2, state2 = run_backup(src, [b"ignored: below a complete state", v1, state1])
    assert entries([v1, state1, state2]) == full_entries(src)
    assert restore_all([level0, level1, level2], tmp_path / "out") == tree_state(src)


def as_version_1(state: bytes) -> bytes:
    """The same level-0 state in the version-1 layout (no parent id in the header)."""
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(state)
    start = len(STATE_MAGIC) + STATE_VERSION_FIELD.size
    level, block_size, level_id, _ = STATE_HEADER.unpack_from(raw, start)
    body = raw[start + STATE_HEADER.size :]
    return zstandard.ZstdCompressor().compress(STATE_MAGIC + struct.pack("<HHI16s", 1, level, block_size, level_id)
                                               + body)


def test_states_that_do_not_form_a_chain_are_refused(tmp_path: Path) -> None:
    src = many_files(tmp_path / "src")
    _, state0 = run_backup(src, [])
    _, other0 = run_backup(src, [])
    _, state1 = run_backup(src, [state0])
    with pytest.raises(IntegrityError, match="level 1 was not made on the state of level 0"):
        run_backup(src, [other0, state1])
    with pytest.raises(IntegrityError, match="needs every level's state"):
        run_backup(src, [state1])


def test_truncated_or_unsafe_states_are_refused(tmp_path: Path) -> None:
    src = many_files(tmp_path / "src")
    _, state0 = run_backup(src, [])
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(state0)
    for cut in (60, 61, 100, len(raw) // 2, len(raw) - 9, len(raw) - 1):
        damaged = zstandard.ZstdCompressor().compress(raw[:cut])
        with pytest.raises(IntegrityError, match="engine state"):
            list(ChainState([damaged]))
    # a state entry naming a path outside the tree is never sent on to a restore (as a deletion)
    header = len(STATE_MAGIC) + STATE_VERSION_FIELD.size + STATE_HEADER.size
    level_id = STATE_HEADER.unpack_from(raw, len(STATE_MAGIC) + STATE_VERSION_FIELD.size)[2]
    evil = (STATE_MAGIC + STATE_VERSION_FIELD.pack(2) + STATE_HEADER.pack(1, 1024, os.urandom(16), level_id)
            + StateEntry(DIR, b"../../etc").encode() + b"Z" + (1).to_bytes(8, "little"))
    assert len(raw) > header
    with pytest.raises(IntegrityError, match="unsafe path"):
        run_backup(src, [state0, zstandard.ZstdCompressor().compress(evil)])
