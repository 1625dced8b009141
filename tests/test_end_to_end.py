"""freezer_core.run() end to end on local storage: backups, levels, restore, admin, info, exec."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import freezer_core
from freezer_core.errors import (
    BackupNotFound,
    DecryptionError,
    IntegrityError,
    PluginNotInstalled,
    ValidationError,
)
from freezer_core.testing.trees import tree_state


def _opts(container: Path, **kw):
    base = {"storage": "local", "container": str(container), "backup_name": "e2e", "hostname": "h1"}
    return base | kw


def _files(container: Path, name: str) -> list[Path]:
    return sorted(p for p in container.rglob(name) if p.is_file())


@pytest.mark.parametrize("compression", ["gzip", "bzip2", "xz", "zstd", "none"])
@pytest.mark.parametrize("encryption", [None, "freezer", "openssl"])
def test_full_incremental_restore(tmp_path, sample_tree, pass_file, compression, encryption):
    container = tmp_path / "c"
    extra = {"compression": compression}
    if encryption:
        extra |= {"encrypt_pass_file": str(pass_file), "encrypt_format": encryption}
    backup = _opts(container, path_to_backup=str(sample_tree), incremental=True, max_level=3, **extra)

    first = freezer_core.run(backup)
    assert first["curr_backup_level"] == 0
    state0 = tree_state(sample_tree)

    (sample_tree / "d0" / "nested" / "t1.txt").write_text("changed")
    (sample_tree / "added.txt").write_text("new")
    (sample_tree / "d1" / "nested" / "t2.txt").unlink()
    second = freezer_core.run(backup)
    assert second["curr_backup_level"] == 1
    assert second["time_stamp"] > first["time_stamp"]
    state1 = tree_state(sample_tree)

    out = tmp_path / "out"
    restored = freezer_core.run(_opts(container, action="restore", restore_abs_path=str(out), **extra))
    assert restored["restored_levels"] == [0, 1]
    assert tree_state(out) == state1

    out0 = tmp_path / "out0"
    freezer_core.run(_opts(container, action="restore", restore_abs_path=str(out0),
                           restore_from_date=_iso(first["time_stamp"]), **extra))
    assert tree_state(out0) == state0


def test_incremental_levels_favour_size(tmp_path, sample_tree, monkeypatch):
    """Level 0 is compressed for speed, the small levels after it for size (docs/performance.md)."""
    from freezer_core.actions import backup as backup_action

    asked: list[bool] = []
    real = backup_action.compressor

    def recording(name, level=None, *, favour_size=False):
        asked.append(favour_size)
        return real(name, level, favour_size=favour_size)

    monkeypatch.setattr(backup_action, "compressor", recording)
    backup = _opts(tmp_path / "c", path_to_backup=str(sample_tree), incremental=True, max_level=3)
    levels = [freezer_core.run(backup)["curr_backup_level"]]
    (sample_tree / "added.txt").write_text("new")
    levels.append(freezer_core.run(backup)["curr_backup_level"])
    assert levels == [0, 1]
    assert asked == [False, True]


def _iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))


def test_encrypted_backups_leave_no_plaintext_on_storage(tmp_path, sample_tree, pass_file):
    container = tmp_path / "c"
    freezer_core.run(_opts(container, path_to_backup=str(sample_tree), compression="none",
                           encrypt_pass_file=str(pass_file)))
    for f in _files(container, "data") + _files(container, "engine_metadata"):
        blob = f.read_bytes()
        assert b"blob.bin" not in blob and b"script.sh" not in blob, f"plaintext in {f}"


def test_metadata_is_written_last_and_an_interrupted_backup_is_invisible(tmp_path, sample_tree, monkeypatch):
    container = tmp_path / "c"
    freezer_core.run(_opts(container, path_to_backup=str(sample_tree), incremental=True, max_level=5))
    from freezer_core.actions import backup as backup_module

    real_put = None

    def failing_put(self, name, data):
        if name.endswith("/metadata"):
            raise KeyboardInterrupt()
        return real_put(self, name, data)

    from freezer_storage_local import LocalStorage
    real_put = LocalStorage.put
    monkeypatch.setattr(LocalStorage, "put", failing_put)
    time.sleep(1.05)
    with pytest.raises(freezer_core.errors.Interrupted):
        freezer_core.run(_opts(container, path_to_backup=str(sample_tree), incremental=True, max_level=5))
    monkeypatch.setattr(LocalStorage, "put", real_put)
    assert backup_module  # the module under test was imported
    # The next backup is level 1 again: the interrupted one does not count.
    third = freezer_core.run(_opts(container, path_to_backup=str(sample_tree), incremental=True, max_level=5))
    assert third["curr_backup_level"] == 1
    out = tmp_path / "out"
    result = freezer_core.run(_opts(container, action="restore", restore_abs_path=str(out)))
    assert result["restored_levels"] == [0, 1]
    assert tree_state(out) == tree_state(sample_tree)


def test_layout_is_upstreams(tmp_path, sample_tree):
    container = tmp_path / "c"
    rec = freezer_core.run(_opts(container, path_to_backup=str(sample_tree)))
    ts = rec["time_stamp"]
    base = f"tar/h1_e2e/{ts}/0_{ts}"
    assert (container / "data" / base / "data").is_file()
    assert (container / "data" / base / "engine_metadata").is_file()
    meta = json.loads((container / "metadata" / base / "metadata").read_text())
    assert meta["engine_name"] == "tar" and meta["compression"] == "gzip" and meta["encryption"] is False


def test_wrong_password_fails_cleanly_and_backup_stays_restorable(tmp_path, sample_tree, pass_file):
    container = tmp_path / "c"
    freezer_core.run(_opts(container, path_to_backup=str(sample_tree), encrypt_pass_file=str(pass_file)))
    before = {p: p.read_bytes() for p in container.rglob("*") if p.is_file()}
    wrong = tmp_path / "wrong"
    wrong.write_text("not the password\n")
    with pytest.raises(DecryptionError, match="wrong password"):
        freezer_core.run(_opts(container, action="restore", restore_abs_path=str(tmp_path / "o"),
                               encrypt_pass_file=str(wrong)))
    assert {p: p.read_bytes() for p in container.rglob("*") if p.is_file()} == before
    freezer_core.run(_opts(container, action="restore", restore_abs_path=str(tmp_path / "o2"),
                           encrypt_pass_file=str(pass_file)))
    assert tree_state(tmp_path / "o2") == tree_state(sample_tree)


def test_encrypted_backup_without_password_says_so(tmp_path, sample_tree, pass_file):
    container = tmp_path / "c"
    freezer_core.run(_opts(container, path_to_backup=str(sample_tree), encrypt_pass_file=str(pass_file)))
    with pytest.raises(ValidationError, match="--encrypt-pass-file"):
        freezer_core.run(_opts(container, action="restore", restore_abs_path=str(tmp_path / "o")))


def test_flipped_byte_in_stored_data_is_detected(tmp_path, sample_tree):
    container = tmp_path / "c"
    freezer_core.run(_opts(container, path_to_backup=str(sample_tree), max_segment_size=65536))
    data = _files(container, "data")[0]
    blob = bytearray(data.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    data.write_bytes(bytes(blob))
    with pytest.raises(IntegrityError, match="segment .* corrupted"):
        freezer_core.run(_opts(container, action="restore", restore_abs_path=str(tmp_path / "o")))


def test_unknown_plugin(tmp_path, sample_tree):
    with pytest.raises(PluginNotInstalled, match="pip install freezer-storage-nosuch"):
        freezer_core.run(_opts(tmp_path, storage="nosuch", path_to_backup=str(sample_tree)))


def test_restore_with_nothing_stored(tmp_path):
    with pytest.raises(BackupNotFound):
        freezer_core.run(_opts(tmp_path / "c", action="restore", restore_abs_path=str(tmp_path / "o")))


def test_admin_removes_only_chains_entirely_older_than_the_cutoff(tmp_path, sample_tree):
    container = tmp_path / "c"
    common = _opts(container, path_to_backup=str(sample_tree), incremental=True, max_level=1)
    recs = []
    for _ in range(3):  # chain A: L0, L1 ; chain B: L0
        recs.append(freezer_core.run(common))
        time.sleep(1.05)
    assert [r["curr_backup_level"] for r in recs] == [0, 1, 0]
    # A cutoff between A's L0 and L1 removes nothing (A's L1 is newer).
    res = freezer_core.run(_opts(container, action="admin", remove_before_date=_iso(recs[1]["time_stamp"])))
    assert res["removed_backups"] == []
    # A cutoff after A's newest backup removes chain A only.
    res = freezer_core.run(_opts(container, action="admin", remove_before_date=_iso(recs[2]["time_stamp"])))
    assert sorted(b["level"] for b in res["removed_backups"]) == [0, 1]
    out = tmp_path / "o"
    restored = freezer_core.run(_opts(container, action="restore", restore_abs_path=str(out)))
    assert restored["time_stamp"] == recs[2]["time_stamp"]


def test_info_reports_backups_sizes_and_objects(tmp_path, sample_tree):
    container = tmp_path / "c"
    freezer_core.run(_opts(container, path_to_backup=str(sample_tree)))
    info = freezer_core.run({"action": "info", "storage": "local", "container": str(container)})
    [entry] = info["backups"]
    assert entry["backup_name"] == "h1_e2e" and entry["backups"] == 1 and entry["objects"] == 3
    assert entry["size"] == sum(p.stat().st_size for p in container.rglob("*") if p.is_file())


def test_exec_runs_a_real_shell_pipeline(tmp_path):
    out = tmp_path / "out.txt"
    res = freezer_core.run({"action": "exec", "command": f"echo hi | tr h H > {out}"})
    assert res["returncode"] == 0
    assert out.read_text() == "Hi\n"


def test_dry_run_writes_nothing(tmp_path, sample_tree):
    container = tmp_path / "c"
    rec = freezer_core.run(_opts(container, path_to_backup=str(sample_tree), dry_run=True))
    assert rec["curr_backup_level"] == 0
    assert not container.exists() or not any(container.rglob("*"))


def test_single_file_backup(tmp_path, sample_tree):
    container = tmp_path / "c"
    freezer_core.run(_opts(container, path_to_backup=str(sample_tree / "blob.bin")))
    out = tmp_path / "o"
    freezer_core.run(_opts(container, action="restore", restore_abs_path=str(out)))
    assert (out / "blob.bin").read_bytes() == (sample_tree / "blob.bin").read_bytes()
