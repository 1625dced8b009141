"""The rsync engine through freezer_core.run on local storage: chains, dates, sizes, damage."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest

import freezer_core
from freezer_core.errors import FreezerError
from freezer_core.pipeline.crypto import HEADER_SIZE, _scrypt, freezer_salt
from freezer_core.testing.engine import wait_for_newer_timestamps
from freezer_core.testing.trees import tree_state

MiB = 1 << 20


def _opts(container: Path, **kw: object) -> dict[str, object]:
    base = {"storage": "local", "container": str(container), "backup_name": "rs", "hostname": "h1",
            "engine_name": "rsync"}
    return base | kw


def _iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))


def _random_file(path: Path, size: int, seed: int) -> None:
    """Incompressible, reproducible content written in 1 MiB pieces."""
    with path.open("wb") as f:
        for i in range(0, size, MiB):
            f.write(hashlib.shake_256(f"{seed}-{i}".encode()).digest(min(MiB, size - i)))


def test_chain_with_zstd_and_encryption_and_restore_from_date(tmp_path, sample_tree, pass_file):
    container = tmp_path / "c"
    extra = {"compression": "zstd", "encrypt_pass_file": str(pass_file)}
    backup = _opts(container, path_to_backup=str(sample_tree), incremental=True, max_level=5, **extra)
    records, states = [], []
    for step in range(3):
        if step:
            wait_for_newer_timestamps(tmp_path, time.time_ns())
            blob = sample_tree / "blob.bin"
            data = blob.read_bytes()
            blob.write_bytes(data[:1000] + b"inserted" * step + data[1000:])
            (sample_tree / "d0" / "nested" / f"t{step}.txt").unlink()
            (sample_tree / f"new{step}").mkdir()
            (sample_tree / "script.sh").chmod(0o700)
        records.append(freezer_core.run(backup))
        states.append(tree_state(sample_tree))
    assert [r["curr_backup_level"] for r in records] == [0, 1, 2]
    assert "rsync" in records[0]["storage_path"]
    for blob in [*container.rglob("data"), *container.rglob("engine_metadata")]:
        if blob.is_file():
            assert b"blob.bin" not in blob.read_bytes(), f"plaintext path in {blob}"

    for level, record in enumerate(records):
        out = tmp_path / f"out{level}"
        restored = freezer_core.run(_opts(container, action="restore", restore_abs_path=str(out),
                                          restore_from_date=_iso(record["time_stamp"]), **extra))
        assert restored["restored_levels"] == list(range(level + 1))
        assert tree_state(out) == states[level]


def test_restore_over_an_existing_tree_with_overwrite(tmp_path, sample_tree):
    container = tmp_path / "c"
    freezer_core.run(_opts(container, path_to_backup=str(sample_tree)))
    out = tmp_path / "out"
    shutil.copytree(sample_tree, out, symlinks=True)
    (out / "blob.bin").write_bytes(b"damaged")
    (out / "d1").chmod(0o700)
    with pytest.raises(FreezerError, match="not empty"):
        freezer_core.run(_opts(container, action="restore", restore_abs_path=str(out)))
    freezer_core.run(_opts(container, action="restore", restore_abs_path=str(out), overwrite=True))
    assert tree_state(out) == tree_state(sample_tree)


def _level1_stored(tmp_path: Path, name: str, size: int, change) -> tuple[int, Path, Path]:
    src = tmp_path / "src"
    src.mkdir()
    _random_file(src / name, size, seed=1)
    container = tmp_path / "c"
    backup = _opts(container, path_to_backup=str(src), incremental=True, compression="none")
    assert freezer_core.run(backup)["curr_backup_level"] == 0
    wait_for_newer_timestamps(tmp_path, time.time_ns())
    change(src / name)
    record = freezer_core.run(backup)
    assert record["curr_backup_level"] == 1
    return int(record["stored_size"]), src, container


def test_appending_8_mib_to_an_80_mib_file_stores_at_most_9_mib(tmp_path):
    def append(path: Path) -> None:
        with path.open("ab") as f:
            f.write(os.urandom(8 * MiB))

    stored, src, container = _level1_stored(tmp_path, "big.bin", 80 * MiB, append)
    assert stored <= 9 * MiB
    out = tmp_path / "out"
    freezer_core.run(_opts(container, action="restore", restore_abs_path=str(out)))
    assert tree_state(out) == tree_state(src)


def test_inserting_1_kib_at_the_start_of_a_50_mib_file_stores_a_few_blocks(tmp_path):
    def insert(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(os.urandom(1024) + data)

    stored, _, _ = _level1_stored(tmp_path, "shifted.bin", 50 * MiB, insert)
    assert stored <= 1024 + 4 * 4096


def _three_levels(tmp_path: Path, sample_tree: Path) -> Path:
    container = tmp_path / "c"
    backup = _opts(container, path_to_backup=str(sample_tree), incremental=True, compression="none")
    for step in range(3):
        if step:
            wait_for_newer_timestamps(tmp_path, time.time_ns())
            with (sample_tree / "blob.bin").open("ab") as f:
                f.write(b"more" * 1000 * step)
        freezer_core.run(backup)
    return container


def test_a_corrupted_increment_fails_the_restore_clearly(tmp_path, sample_tree):
    container = _three_levels(tmp_path, sample_tree)
    level1 = next(p for p in container.rglob("data") if p.is_file() and p.parent.name.startswith("1_"))
    raw = bytearray(level1.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    level1.write_bytes(bytes(raw))
    with pytest.raises(FreezerError, match="(?i)corrupt|damaged|checksum") as err:
        freezer_core.run(_opts(container, action="restore", restore_abs_path=str(tmp_path / "out")))
    assert err.value.exit_code in (3, 4, 5, 6)
    print(err.value)


@pytest.mark.parametrize("what", ["whole level", "data only"])
def test_a_missing_increment_fails_the_restore_clearly(tmp_path, sample_tree, what):
    container = _three_levels(tmp_path, sample_tree)
    kinds = ("data", "metadata") if what == "whole level" else ("data",)
    for kind in kinds:
        for level1 in [p for p in (container / kind).rglob("1_*") if p.is_dir()]:
            shutil.rmtree(level1)
    with pytest.raises(FreezerError, match="(?i)missing|no level 1|not found|does not exist") as err:
        freezer_core.run(_opts(container, action="restore", restore_abs_path=str(tmp_path / "out")))
    assert err.value.exit_code in (3, 4, 5, 6)
    print(err.value)


def test_one_key_derivation_per_backup_and_states_that_hold_only_changes(tmp_path, sample_tree, pass_file):
    """scrypt is slow on purpose: an increment derives its key once (reading every state of the chain,
    writing data and state), and each level's engine state holds only what changed at it."""
    container = tmp_path / "c"
    backup = _opts(container, path_to_backup=str(sample_tree), incremental=True, compression="zstd",
                   encrypt_pass_file=str(pass_file))
    freezer_core.run(backup)
    for step in (1, 2):
        wait_for_newer_timestamps(tmp_path, time.time_ns())
        (sample_tree / "d1" / "nested" / "t1.txt").write_text(f"changed at level {step}")
        _scrypt.cache_clear()
        assert freezer_core.run(backup)["curr_backup_level"] == step
        assert _scrypt.cache_info().misses == 1, f"level {step}"
    sealed = {p.parent.name.split("_")[0]: p.read_bytes() for p in container.rglob("engine_metadata")}
    data = {p.parent.name.split("_")[0]: p.read_bytes() for p in container.rglob("data") if p.is_file()}
    salts = {freezer_salt(blob) for blob in [*sealed.values(), *data.values()]}
    assert len(salts) == 1 and None not in salts  # one key for the chain, each object its own nonce prefix
    assert len({blob[HEADER_SIZE - 11 : HEADER_SIZE - 4] for blob in [*sealed.values(), *data.values()]}) == 6
    assert len(sealed["2"]) * 4 < len(sealed["0"])
    out = tmp_path / "out"
    freezer_core.run(_opts(container, action="restore", restore_abs_path=str(out), compression="zstd",
                           encrypt_pass_file=str(pass_file)))
    assert tree_state(out) == tree_state(sample_tree)
