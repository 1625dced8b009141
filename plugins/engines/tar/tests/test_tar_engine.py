"""TarEngine: the conformance suite plus what only a GNU tar engine promises."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from freezer_engine_tar import TarEngine
from freezer_engine_tar import argv as tar_argv
from freezer_engine_tar.binary import find_gnu_tar
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freezer_core.contract import Source
from freezer_core.errors import EngineError, ValidationError
from freezer_core.testing.engine import EngineFactory, IncrementalEngineTests, odd_chunks, wait_for_newer_timestamps
from freezer_core.testing.trees import File, Symlink, make_tree, random_tree, tree_state

REAL_TAR = find_gnu_tar()
"""Resolved before any test puts a fake tar on PATH."""

DEFAULTS: dict[str, Any] = {"exclude": None, "dereference_symlink": "", "dry_run": False, "overwrite": False}


def tar_engine(**options: Any) -> TarEngine:
    return TarEngine({**DEFAULTS, **options})


def run_backup(engine: TarEngine, path: Path, state: bytes | None = None) -> tuple[bytes, bytes]:
    stream = engine.backup(Source(path=path), state)
    try:
        return b"".join(stream), stream.state()
    finally:
        stream.close()


def members(data: bytes) -> dict[str, str]:
    """Member name -> type letter of ``tar -tv`` ('-' file, 'd' dir, 'l' symlink, 'h' hard link).

    GNU tar lists the archive itself: Python's tarfile misreads the times GNU
    incremental archives keep in the header's prefix field as part of the name.
    """
    listing = subprocess.run(
        [REAL_TAR, "--list", "--verbose", "--file=-"],
        input=data,
        capture_output=True,
        check=True,
        env={"PATH": os.environ["PATH"], "LC_ALL": "C"},
    ).stdout.decode()
    found = {}
    for line in listing.splitlines():
        name = line.split(maxsplit=5)[5].split(" -> ")[0].split(" link to ")[0]
        found[name] = line[0]
    return found


class TestTarEngine(IncrementalEngineTests):
    @pytest.fixture
    def engine_factory(self) -> EngineFactory:
        return lambda options: TarEngine({**DEFAULTS, **options})


# ---------------------------------------------------------------- the stream and the state


def test_stream_is_a_plain_tar_that_gnu_tar_lists(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a.txt": b"a", "d/b.txt": b"b"})
    data, _ = run_backup(tar_engine(), src)
    assert not data.startswith(b"\x1f\x8b")  # compression is the pipeline's job
    listed = subprocess.run(
        [REAL_TAR, "--list", "--file=-"], input=data, capture_output=True, check=True
    ).stdout.decode()
    assert set(listed.split()) == {"./", "./a.txt", "./d/", "./d/b.txt"}


def test_state_is_a_gnu_snapshot_file(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a.txt": b"a"})
    _, state = run_backup(tar_engine(), src)
    assert re.match(rb"GNU tar-1\.\d+-2\n", state)
    _, state1 = run_backup(tar_engine(), src, state)
    assert re.match(rb"GNU tar-1\.\d+-2\n", state1)


def test_level1_archive_holds_only_changes(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"old.txt": File(b"o", mtime=1_500_000_000), "d/x": b"x"})
    _, state = run_backup(tar_engine(), src)
    wait_for_newer_timestamps(tmp_path, time.time_ns())
    make_tree(src, {"d/new.txt": b"new"})
    data, _ = run_backup(tar_engine(), src, state)
    regular = {name for name, kind in members(data).items() if kind == "-"}
    assert regular == {"./d/new.txt"}


def test_single_file_member_is_its_basename(tmp_path: Path) -> None:
    src = make_tree(tmp_path, {"f.txt": b"single"})
    data, _ = run_backup(tar_engine(), src / "f.txt")
    assert list(members(data)) == ["f.txt"]


def test_single_file_named_like_an_option(tmp_path: Path) -> None:
    make_tree(tmp_path / "src", {"--remove-files": b"not an option"})
    data, _ = run_backup(tar_engine(), tmp_path / "src" / "--remove-files")
    assert list(members(data)) == ["--remove-files"]
    assert (tmp_path / "src" / "--remove-files").exists()
    out = tmp_path / "out"
    tar_engine().restore(odd_chunks(data), out, 0)
    assert (out / "--remove-files").read_bytes() == b"not an option"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_random_trees_round_trip(tmp_path_factory: pytest.TempPathFactory, seed: int) -> None:
    base = tmp_path_factory.mktemp("random")
    src = make_tree(base / "src", random_tree(seed))
    data, _ = run_backup(tar_engine(), src)
    tar_engine().restore(odd_chunks(data), base / "out", 0)
    assert tree_state(base / "out") == tree_state(src)


# ---------------------------------------------------------------- options


def test_exclude_glob(tmp_path: Path) -> None:
    src = make_tree(
        tmp_path / "src", {"keep.txt": b"k", "drop.log": b"d", "sub/also.log": b"d", "sub/k": b"k"}
    )
    data, _ = run_backup(tar_engine(exclude="*.log"), src)
    out = tmp_path / "out"
    tar_engine().restore(odd_chunks(data), out, 0)
    assert set(tree_state(out)) == {"keep.txt", "sub", "sub/k"}


def test_empty_exclude_excludes_nothing(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a.log": b"a"})
    data, _ = run_backup(tar_engine(exclude=""), src)
    assert "./a.log" in members(data)


@pytest.mark.parametrize(
    ("value", "flags"),
    [
        ("", ()),
        (None, ()),
        ("soft", ("--dereference",)),
        ("hard", ("--hard-dereference",)),
        ("all", ("--dereference", "--hard-dereference")),
    ],
)
def test_dereference_flags(value: str | None, flags: tuple[str, ...]) -> None:
    assert tar_argv.dereference_flags(value) == flags


def test_invalid_dereference_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="soft, hard or all"):
        tar_engine(dereference_symlink="sometimes")


def _links_tree(tmp_path: Path) -> Path:
    outside = make_tree(tmp_path / "outside", {"file.txt": b"outside the tree"}) / "file.txt"
    src = make_tree(tmp_path / "src", {"target.txt": b"target", "sym": Symlink(str(outside))})
    os.link(src / "target.txt", src / "hard")
    return src


@pytest.mark.parametrize(
    ("value", "symlink_stored_as", "hard_link_kept"),
    [("", "l", True), ("soft", "-", True), ("hard", "l", False), ("all", "-", False)],
)
def test_dereference_changes_what_is_stored(
    tmp_path: Path, value: str, symlink_stored_as: str, hard_link_kept: bool
) -> None:
    data, _ = run_backup(tar_engine(dereference_symlink=value), _links_tree(tmp_path))
    found = members(data)
    assert found["./sym"] == symlink_stored_as
    # tar stores whichever of the two names it meets second as the hard link member
    assert ("h" in (found["./hard"], found["./target.txt"])) == hard_link_kept
    out = tmp_path / "out"
    tar_engine().restore(odd_chunks(data), out, 0)
    restored = tree_state(out)
    if symlink_stored_as == "-":
        assert (out / "sym").read_bytes() == b"outside the tree"
    else:
        assert restored["sym"] == ("symlink", str(tmp_path / "outside" / "file.txt"))
    assert (out / "hard").stat().st_nlink == (2 if hard_link_kept else 1)


def test_backup_command_matches_upstream() -> None:
    argv = tar_argv.backup_argv(
        "tar", member=".", snapshot="/t/snapshot", exclude="*.tmp", dereference=("--dereference",)
    )
    assert argv == [
        "tar", "--create", "--warning=none", "--no-check-device", "--one-file-system",
        "--preserve-permissions", "--same-owner", "--seek", "--ignore-failed-read", "--dereference",
        "--listed-incremental=/t/snapshot", "--exclude=*.tmp", ".",
    ]  # fmt: skip


def test_restore_command_is_upstreams_with_larger_records() -> None:
    assert tar_argv.restore_argv("tar", "/dst") == [
        "tar", "--extract", "--incremental", "--ignore-zeros", "--warning=none", "--overwrite",
        "--preserve-permissions", "--blocking-factor=256", "--read-full-records", "--directory", "/dst",
    ]  # fmt: skip  (docs/compatibility.md: the record options are ours)
    assert tar_argv.restore_argv("tar", "/dst", list_only=True)[1] == "--list"


def test_dry_run_lists_and_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = make_tree(tmp_path / "src", {"a": b"a", "b/c": b"c"})
    data, _ = run_backup(tar_engine(), src)
    out = tmp_path / "never-created"
    with caplog.at_level(logging.INFO, logger="freezer.engine.tar"):
        tar_engine(dry_run=True).restore(odd_chunks(data), out, 0)
    assert not out.exists()
    assert "holds 4 entries" in caplog.text


def test_level0_restore_refuses_a_non_empty_target(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src", {"a": b"new"})
    data, _ = run_backup(tar_engine(), src)
    out = make_tree(tmp_path / "out", {"a": b"old", "mine": b"keep"})
    with pytest.raises(EngineError, match="not empty.*--overwrite"):
        tar_engine().restore(odd_chunks(data), out, 0)
    assert (out / "a").read_bytes() == b"old"
    tar_engine(overwrite=True).restore(odd_chunks(data), out, 0)
    assert (out / "a").read_bytes() == b"new"
    # GNU incremental extraction makes each directory match its dumpdir: extra files go (README)
    assert not (out / "mine").exists()


def test_restore_target_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(EngineError, match="not a directory"):
        tar_engine().restore([b""], tmp_path / "file", 0)


def test_stream_can_be_read_once(tmp_path: Path) -> None:
    stream = tar_engine().backup(Source(path=make_tree(tmp_path / "src", {"a": b"a"})), None)
    try:
        b"".join(stream)
        with pytest.raises(EngineError, match="only once"):
            iter(stream)
    finally:
        stream.close()


def test_state_before_the_end_is_an_error(tmp_path: Path) -> None:
    stream = tar_engine().backup(Source(path=make_tree(tmp_path / "src", {"a": b"a"})), None)
    try:
        with pytest.raises(EngineError, match="after the whole stream"):
            stream.state()
    finally:
        stream.close()


def test_source_without_a_path(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="path-to-backup"):
        tar_engine().backup(Source(path=None), None)


def test_broken_pipe_reports_tars_error(tmp_path: Path) -> None:
    garbage = b"\xff" * (8 << 20)
    with pytest.raises(EngineError, match="does not look like a tar archive"):
        tar_engine().restore([garbage], tmp_path / "out", 0)


# ---------------------------------------------------------------- the binary and exit codes


def _fake_tar(bin_dir: Path, body: str) -> None:
    """A ``gnutar`` earlier on PATH wrapping the real one (found before tar is replaced)."""
    real = REAL_TAR
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "gnutar"
    script.write_text(
        f'#!/bin/sh\nREAL="{real}"\nif [ "$1" = --version ]; then exec "$REAL" --version; fi\n{body}\n'
    )
    script.chmod(0o755)


def test_exit_1_is_a_logged_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _fake_tar(
        tmp_path / "bin",
        '"$REAL" "$@" || exit $?\necho "gnutar: ./a: file changed as we read it" >&2\nexit 1',
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    engine = tar_engine()
    assert engine.tar.endswith("gnutar")
    src = make_tree(tmp_path / "src", {"a": b"a"})
    with caplog.at_level(logging.WARNING, logger="freezer.engine.tar"):
        data, state = run_backup(engine, src)
    assert "./a" in members(data) and state.startswith(b"GNU tar-")
    assert "file changed as we read it" in caplog.text


def test_exit_2_is_an_engine_error_with_tars_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_tar(
        tmp_path / "bin",
        'echo "gnutar: ./x: Cannot open: Permission denied" >&2\n'
        'echo "gnutar: Exiting with failure status due to previous errors" >&2\nexit 2',
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    src = make_tree(tmp_path / "src", {"a": b"a"})
    with pytest.raises(EngineError, match=r"exit 2\): gnutar: ./x: Cannot open: Permission denied"):
        run_backup(tar_engine(), src)


def test_non_gnu_tar_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "tar"
    fake.write_text("#!/bin/sh\necho 'bsdtar 3.6.2 - libarchive 3.6.2'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(EngineError, match=r"GNU tar is required.*apt-get install tar"):
        tar_engine()


def test_tar_options_env_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAR_OPTIONS", "--exclude=*.txt")
    src = make_tree(tmp_path / "src", {"a.txt": b"a"})
    data, _ = run_backup(tar_engine(), src)
    assert "./a.txt" in members(data)
