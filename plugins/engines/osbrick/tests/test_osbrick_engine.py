"""OsbrickEngine on real image files and loop devices (what os-brick hands back for an attached volume).

Each test makes ext4 image files with mkfs.ext4, fills them through a real
loop mount, and checks after every run that no mount and no loop device of
the engine is left.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from freezer_engine_osbrick import OsbrickEngine
from freezer_engine_osbrick.mount import Mounted, filesystem_of

from freezer_core.contract import Source
from freezer_core.errors import EngineError
from freezer_core.testing.trees import File, make_tree, tree_state

OPTIONS: dict[str, Any] = {"exclude": None, "dereference_symlink": "", "dry_run": False, "overwrite": False}


def _image(path: Path, filesystem: bool = True) -> Path:
    with path.open("wb") as f:
        f.truncate(64 << 20)
    if filesystem:
        subprocess.run(["mkfs.ext4", "-q", "-F", str(path)], check=True)
    return path


def _loops_of(path: Path) -> str:
    return subprocess.run(["losetup", "-j", str(path)], capture_output=True, text=True, check=True).stdout


def _engine_mounts() -> list[str]:
    return [line for line in Path("/proc/mounts").read_text().splitlines() if "freezer-osbrick-" in line]


@pytest.fixture(autouse=True)
def nothing_left_behind() -> Iterator[None]:
    yield
    assert _engine_mounts() == []


def _fill(image: Path, tree: dict[str, Any]) -> None:
    with Mounted(image, read_only=False) as directory:
        make_tree(directory, tree)


def _state(image: Path) -> dict[str, Any]:
    with Mounted(image, read_only=True) as directory:
        return {k: v for k, v in tree_state(directory).items() if not k.startswith("lost+found")}


def _backup(engine: OsbrickEngine, path: Path, state: bytes | None = None) -> tuple[bytes, bytes]:
    stream = engine.backup(Source(path=path), state)
    try:
        return b"".join(stream), stream.state()
    finally:
        stream.close()


def test_levels_of_an_image_file_restore_into_a_volume_without_a_file_system(tmp_path: Path) -> None:
    source = _image(tmp_path / "volume.img")
    _fill(source, {"etc/app.conf": File(b"port=1\n"), "data/blob.bin": File(bytes(range(256)) * 400),
                   "gone.txt": File(b"bye\n")})
    engine = OsbrickEngine(OPTIONS)
    level0, state0 = _backup(engine, source)
    assert _loops_of(source) == ""  # the loop device was freed with the stream
    with Mounted(source, read_only=False) as directory:
        (directory / "etc/app.conf").write_bytes(b"port=2\n")
        (directory / "gone.txt").unlink()
        (directory / "new.txt").write_bytes(b"new\n")
    expected = _state(source)
    level1, _ = _backup(engine, source, state0)

    target = _image(tmp_path / "restored.img", filesystem=False)
    engine.restore(iter([level0]), target, 0)
    engine.restore(iter([level1]), target, 1)
    assert filesystem_of(str(target)) == "ext4"
    assert _state(target) == expected
    assert _loops_of(target) == ""


def test_a_block_device_is_backed_up_as_given(tmp_path: Path) -> None:
    source = _image(tmp_path / "volume.img")
    _fill(source, {"a.txt": File(b"on a block device\n")})
    device = subprocess.run(["losetup", "--find", "--show", str(source)], capture_output=True, text=True,
                            check=True).stdout.strip()
    try:
        data, _ = _backup(OsbrickEngine(OPTIONS), Path(device))
    finally:
        subprocess.run(["losetup", "--detach", device], check=True)
    target = _image(tmp_path / "restored.img")
    OsbrickEngine(OPTIONS).restore(iter([data]), target, 0)
    assert _state(target)["a.txt"] == _state(source)["a.txt"]


def test_restore_refuses_a_volume_holding_files_unless_overwrite(tmp_path: Path) -> None:
    source = _image(tmp_path / "volume.img")
    _fill(source, {"a.txt": File(b"new\n")})
    data, _ = _backup(OsbrickEngine(OPTIONS), source)
    target = _image(tmp_path / "busy.img")
    _fill(target, {"precious.txt": File(b"keep\n")})
    with pytest.raises(EngineError, match=r"already holds files \(precious.txt\).*--overwrite"):
        OsbrickEngine(OPTIONS).restore(iter([data]), target, 0)
    assert _loops_of(target) == ""
    OsbrickEngine(OPTIONS | {"overwrite": True}).restore(iter([data]), target, 0)
    assert set(_state(target)) == {"a.txt"}  # as tar's incremental restore does: the backup's files exactly


def test_what_cannot_be_backed_up_is_one_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    engine = OsbrickEngine(OPTIONS)
    blank = _image(tmp_path / "blank.img", filesystem=False)
    with pytest.raises(EngineError, match="holds no file system.*--mode cinder"):
        engine.backup(Source(path=blank), None)
    assert _loops_of(blank) == ""
    with pytest.raises(EngineError, match="neither a block device nor an image file"):
        engine.backup(Source(path=tmp_path), None)
    with pytest.raises(EngineError, match="is not attached here"):
        engine.backup(Source(path=tmp_path / "missing.img"), None)
    with pytest.raises(EngineError, match="--mode cinderbrick"):
        engine.backup(Source(path=None), None)


def test_a_stream_closed_early_still_unmounts(tmp_path: Path) -> None:
    source = _image(tmp_path / "volume.img")
    _fill(source, {f"f{i}.bin": File(bytes([i]) * 100_000) for i in range(20)})
    stream = OsbrickEngine(OPTIONS).backup(Source(path=source), None)
    next(iter(stream))
    assert len(_engine_mounts()) == 1
    stream.close()
    assert _loops_of(source) == ""
