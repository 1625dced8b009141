"""RsyncEngine: the conformance suite plus what only a block-delta engine promises."""

from __future__ import annotations

import os
import random
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from freezer_engine_rsync import RsyncEngine
from freezer_engine_rsync.backup import _read
from freezer_engine_rsync.signature import READ_SIZE, Copy, Matcher, Signer, aligned_weak, delta, rolling_weak
from hypothesis import given, settings
from hypothesis import strategies as st

from freezer_core.contract import Source
from freezer_core.errors import EngineError, IntegrityError, ValidationError
from freezer_core.testing.engine import (
    OLD,
    EngineFactory,
    IncrementalEngineTests,
    odd_chunks,
    wait_for_newer_timestamps,
)
from freezer_core.testing.trees import Dir, File, make_tree, tree_state

DEFAULTS: dict[str, Any] = {"rsync_block_size": 4096, "exclude": None, "dereference_symlink": "",
                            "dry_run": False, "overwrite": False}


def rsync_engine(**options: Any) -> RsyncEngine:
    return RsyncEngine({**DEFAULTS, **options})


class TestRsyncEngine(IncrementalEngineTests):
    @pytest.fixture
    def engine_factory(self) -> EngineFactory:
        return lambda options: rsync_engine(**options)


def run_backup(engine: RsyncEngine, path: Path, state: bytes | list[bytes] | None = None) -> tuple[bytes, bytes]:
    stream = engine.backup(Source(path=path), state)
    try:
        return b"".join(stream), stream.state()
    finally:
        stream.close()


def apply_delta(old: bytes, ops: list[Copy | bytes], block: int) -> bytes:
    return b"".join(old[op.index * block : (op.index + op.count) * block] if isinstance(op, Copy) else op
                    for op in ops)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 1 << 30), size=st.integers(0, 40_000),
       edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 3000), st.integers(0, 300)), max_size=4))
def test_delta_rebuilds_the_new_data_and_reuses_what_did_not_move(seed: int, size: int,
                                                                   edits: list[tuple[float, int, int]]) -> None:
    block = 512
    rng = random.Random(seed)
    old = rng.randbytes(size)
    new = old
    for at, insert, delete in edits:
        pos = int(len(new) * at)
        new = new[:pos] + rng.randbytes(insert) + new[pos + delete :]
    signer = Signer(block)
    signer.update(old)
    _, weak, strong, _ = signer.finish()
    ops = list(delta(odd_chunks(new), Matcher(block, weak, strong)))
    assert apply_delta(old, ops, block) == new
    new_signer = Signer(block)

    def signed() -> Iterator[bytes]:
        for chunk in odd_chunks(new):
            new_signer.update(chunk)
            yield chunk

    # with the new file's signer at hand, aligned blocks reuse its hashes: the same delta, each block hashed once
    assert list(delta(signed(), Matcher(block, weak, strong), new_signer)) == ops
    reference = Signer(block)
    reference.update(new)
    assert new_signer.finish() == reference.finish()
    literal = sum(len(op) for op in ops if isinstance(op, bytes))
    # every edit costs at most its inserted bytes plus the two blocks it touches (and the unsigned tail)
    assert literal <= sum(i + 2 * block for _, i, _ in edits) + block


def test_rolling_weak_matches_aligned_weak_at_every_offset() -> None:
    data = random.Random(3).randbytes(10_000)
    rolled = rolling_weak(data, 512)
    for k in (0, 1, 511, 512, 4000, len(data) - 512):
        assert rolled[k] == aligned_weak(data[k : k + 512], 512)[0]


def _level1(tmp_path: Path) -> tuple[RsyncEngine, bytes, bytes, list[bytes], Path]:
    src = make_tree(tmp_path / "src", {"big.bin": File(random.Random(1).randbytes(300_000), mtime=OLD)})
    engine = rsync_engine()
    level0, state0 = run_backup(engine, src)
    wait_for_newer_timestamps(tmp_path, time.time_ns())
    data = (src / "big.bin").read_bytes()
    (src / "big.bin").write_bytes(data[:1000] + b"new bytes" + data[1000:])
    level1, state1 = run_backup(engine, src, state0)
    return engine, level0, level1, [state0, state1], src


def test_a_shifted_file_is_sent_as_a_small_patch(tmp_path: Path) -> None:
    _, level0, level1, _, _ = _level1(tmp_path)
    assert len(level0) > 300_000
    assert len(level1) < 3 * 4096


def test_a_corrupted_patch_is_refused_and_leaves_the_old_file(tmp_path: Path) -> None:
    engine, level0, level1, _, _ = _level1(tmp_path)
    out = tmp_path / "out"
    engine.restore(odd_chunks(level0), out, 0)
    before = tree_state(out)
    pos = level1.index(b"new bytes")
    damaged = level1[:pos] + b"NEW" + level1[pos + 3 :]
    with pytest.raises(EngineError, match="checksum"):
        rsync_engine().restore(odd_chunks(damaged), out, 1)
    assert tree_state(out) == before
    assert not [p for p in out.iterdir() if p.name.startswith(".frzrsync-")]


def test_a_skipped_level_is_refused(tmp_path: Path) -> None:
    engine, level0, level1, states, src = _level1(tmp_path)
    wait_for_newer_timestamps(tmp_path, time.time_ns())
    (src / "big.bin").write_bytes(b"level 2")
    level2, _ = run_backup(engine, src, states)
    restorer = rsync_engine()
    restorer.restore(odd_chunks(level0), tmp_path / "out", 0)
    with pytest.raises(EngineError, match="increment is missing"):
        restorer.restore(odd_chunks(level2), tmp_path / "out", 2)


def test_corrupted_state_is_an_integrity_error(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a": b"a"})
    with pytest.raises(IntegrityError, match="engine state"):
        run_backup(rsync_engine(), src, b"not a state at all")


def test_hard_links_special_files_and_owners_round_trip(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a/one": b"shared content", "b": Dir()})
    os.link(src / "a" / "one", src / "b" / "two")
    os.mkfifo(src / "pipe")
    if os.geteuid() == 0:
        os.chown(src / "a" / "one", 4321, 4322)
    data, _ = run_backup(rsync_engine(), src)
    out = tmp_path / "out"
    rsync_engine().restore(odd_chunks(data), out, 0)
    assert tree_state(out) == tree_state(src)
    one, two = (out / "a" / "one").stat(), (out / "b" / "two").stat()
    assert one.st_ino == two.st_ino and one.st_nlink == 2
    assert ((one.st_uid, one.st_gid) == (4321, 4322)) or os.geteuid() != 0
    assert stat.S_ISFIFO((out / "pipe").lstat().st_mode)


def test_dereference_hard_stores_links_as_separate_files(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"one": b"shared"})
    os.link(src / "one", src / "two")
    data, _ = run_backup(rsync_engine(dereference_symlink="hard"), src)
    out = tmp_path / "out"
    rsync_engine().restore(odd_chunks(data), out, 0)
    assert (out / "one").stat().st_ino != (out / "two").stat().st_ino
    assert (out / "two").read_bytes() == b"shared"


def test_exclude_and_block_size_validation(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"keep.txt": b"k", "skip.log": b"s", "d/also.log": b"s"})
    data, _ = run_backup(rsync_engine(exclude="*.log"), src)
    out = tmp_path / "out"
    rsync_engine().restore(odd_chunks(data), out, 0)
    assert sorted(tree_state(out)) == ["d", "keep.txt"]
    with pytest.raises(ValidationError, match="--rsync-block-size"):
        rsync_engine(rsync_block_size=3)
    assert rsync_engine(rsync_block_size=8192).metadata()["rsync_block_size"] == 8192


@given(size=st.integers(0, 3 * READ_SIZE + 5), expected=st.integers(0, 3 * READ_SIZE + 5))
@settings(max_examples=40, deadline=None)
def test_a_file_is_read_whole_whatever_size_the_walk_saw(tmp_path_factory: pytest.TempPathFactory,
                                                       size: int, expected: int) -> None:
    """A file that grew or shrank since it was listed is still read to its end, in chunks of at most READ_SIZE."""
    path = tmp_path_factory.mktemp("read") / "f"
    data = random.Random(size).randbytes(size)
    path.write_bytes(data)
    with open(path, "rb") as f:
        chunks = list(_read(f, bytes(path), expected))
    assert b"".join(chunks) == data
    assert all(0 < len(c) <= READ_SIZE for c in chunks)
