"""Bad input through the real freezer-agent: one clear line, a non-zero exit, backups intact.

Each case first makes a good backup, then does the wrong thing, then checks
that stderr is a single line without a traceback, that the exit code is the
documented one, and that every stored byte is unchanged (or, for the failed
backup itself, that nothing half-written became visible and the old backup
still restores).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from freezer_core.testing.trees import tree_state

AGENT = str(Path(sys.executable).with_name("freezer-agent"))


def agent(*args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = [AGENT, *args, "--log-file", os.devnull]
    if user:
        argv = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def fingerprint(container: Path) -> dict[str, str]:
    return {p.relative_to(container).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(container.rglob("*")) if p.is_file()}


def assert_one_line_error(done: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert done.returncode == code, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def stored(tmp_path: Path, sample_tree: Path, pass_file: Path):
    container = tmp_path / "container"
    common = ["--storage", "local", "--container", str(container), "--backup-name", "bad", "--hostname", "h"]
    done = agent("--path-to-backup", str(sample_tree), "--encrypt-pass-file", str(pass_file), *common)
    assert done.returncode == 0, done.stderr
    return container, common


def restores_fine(tmp_path: Path, common: list[str], pass_file: Path, expected: dict) -> None:
    out = tmp_path / "check-restore"
    shutil.rmtree(out, ignore_errors=True)
    done = agent("--action", "restore", "--restore-abs-path", str(out), "--encrypt-pass-file", str(pass_file),
                 *common)
    assert done.returncode == 0, done.stderr
    assert tree_state(out) == expected


def test_missing_path(tmp_path, stored, sample_tree, pass_file):
    container, common = stored
    before = fingerprint(container)
    done = agent("--path-to-backup", str(tmp_path / "missing"), *common)
    assert_one_line_error(done, 2, "--path-to-backup", "missing")
    assert fingerprint(container) == before


def test_unreadable_path(tmp_path, stored, sample_tree, pass_file):
    container, common = stored
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "f.txt").write_text("root only")
    before = fingerprint(container)
    done = agent("--path-to-backup", str(private), *common, user="nobody")
    assert_one_line_error(done, 5, "permission denied")
    assert fingerprint(container) == before


def test_wrong_password(tmp_path, stored, sample_tree, pass_file):
    container, common = stored
    before = fingerprint(container)
    wrong = tmp_path / "wrong"
    wrong.write_text("guess\n")
    done = agent("--action", "restore", "--restore-abs-path", str(tmp_path / "o"), "--encrypt-pass-file",
                 str(wrong), *common)
    assert_one_line_error(done, 4, "wrong password")
    assert fingerprint(container) == before


def test_flipped_byte_in_a_stored_segment(tmp_path, stored, sample_tree, pass_file):
    container, common = stored
    [data] = [p for p in container.rglob("data") if p.is_file()]
    blob = bytearray(data.read_bytes())
    blob[-100] ^= 0x40
    data.write_bytes(bytes(blob))
    before = fingerprint(container)
    done = agent("--action", "restore", "--restore-abs-path", str(tmp_path / "o"), "--encrypt-pass-file",
                 str(pass_file), *common)
    assert_one_line_error(done, 4, "corrupted")
    assert fingerprint(container) == before


def test_full_disk(tmp_path, sample_tree, pass_file):
    """A backup that fills the disk fails cleanly; the earlier backup still restores."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    try:
        common = ["--storage", "local", "--container", str(mnt / "c"), "--backup-name", "full", "--hostname", "h",
                  "--encrypt-pass-file", str(pass_file)]
        small = tmp_path / "small-src"
        small.mkdir()
        (small / "a.txt").write_text("small enough")
        assert agent("--path-to-backup", str(small), *common).returncode == 0
        expected = tree_state(small)
        before = fingerprint(mnt / "c")
        (small / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
        done = agent("--path-to-backup", str(small), *common)
        assert_one_line_error(done, 3, "no space left")
        assert fingerprint(mnt / "c") == before  # nothing half-written is left behind
        (small / "big.bin").unlink()
        restores_fine(tmp_path, common[:-2], pass_file, expected)
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_unknown_plugin(tmp_path, stored, sample_tree):
    container, common = stored
    before = fingerprint(container)
    done = agent("--path-to-backup", str(sample_tree), *common, "--engine", "nosuch")
    assert_one_line_error(done, 7, "pip install freezer-engine-nosuch")
    assert fingerprint(container) == before


@pytest.mark.parametrize("args, needle", [
    (["--no-incremental", "true", "--max-level", "3"], "--max-level"),
    (["--mode", "nova", "--nova-inst-id", "x", "--no-incremental", "true"], "--engine nova"),
    (["--action", "admin"], "--remove-older-than"),
    (["--action", "exec"], "--command"),
    (["--compression", "lz77"], "--compression"),
])
def test_invalid_option_combinations(tmp_path, stored, sample_tree, args, needle):
    container, common = stored
    before = fingerprint(container)
    done = agent("--path-to-backup", str(sample_tree), *common, *args)
    assert_one_line_error(done, 2, needle)
    assert fingerprint(container) == before
