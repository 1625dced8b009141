"""The mongodump engine through freezer_core.run, against doubles of the node and of the tools."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import freezer_core
from freezer_core.errors import EngineError, ValidationError
from freezer_core.models import Action
from freezer_core.validation import validate
from tests.doubles import mongotools_double as tools
from tests.doubles.mongo_wire_double import MongoWireDouble, mongo_double


@pytest.fixture
def toolbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tools.install(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    data = tmp_path / "dump-payload"
    data.write_bytes(os.urandom(300_000) + b"collection documents" * 1000)
    monkeypatch.setenv(tools.ENV_LOG, str(tmp_path / "tools.log"))
    monkeypatch.setenv(tools.ENV_DATA, str(data))
    monkeypatch.setenv(tools.ENV_RESTORED, str(tmp_path / "restored-archive"))
    return tmp_path


@pytest.fixture
def node() -> Iterator[MongoWireDouble]:
    with mongo_double(role="primary") as double:
        yield double


def _opts(toolbox: Path, node: MongoWireDouble, **extra: object) -> dict[str, object]:
    return {"mode": "mongodb", "mongodb_uri": node.uri, "storage": "local", "container": str(toolbox / "store"),
            "backup_name": "mongo", "hostname": "h", "compression": "zstd",
            "encrypt_pass_file": str(_pass(toolbox)), **extra}


def _pass(toolbox: Path) -> Path:
    p = toolbox / "pass"
    p.write_text("pw\n")
    return p


def test_dump_is_streamed_and_restored_with_oplog(toolbox: Path, node: MongoWireDouble) -> None:
    record = freezer_core.run(_opts(toolbox, node))
    assert record["engine_name"] == "mongodump"  # chosen by the mode because mongodump is installed
    assert node.sequence() == ["hello"]  # a role check, and no lock at all
    freezer_core.run(_opts(toolbox, node, action="restore"))
    dumped = tools.ARCHIVE_MAGIC + (toolbox / "dump-payload").read_bytes()
    assert (toolbox / "restored-archive").read_bytes() == dumped
    dump, restore = tools.calls(toolbox / "tools.log")
    assert dump["tool"] == "mongodump" and "--archive" in dump["argv"] and "--oplog" in dump["argv"]
    assert restore["tool"] == "mongorestore" and {"--archive", "--drop", "--oplogReplay"} <= set(restore["argv"])
    for call in (dump, restore):
        assert call["uri"] == node.uri  # the tools got the URI (and so any password in it)...
        assert not any("127.0.0.1" in arg for arg in call["argv"])  # ...never on a command line
    assert not list(Path("/tmp").glob("freezer-mongo-*.yaml"))  # the private config files are gone


def test_a_standalone_node_is_dumped_without_oplog(toolbox: Path) -> None:
    with mongo_double(role="standalone") as standalone:
        freezer_core.run(_opts(toolbox, standalone, mongodb_node="any"))
        freezer_core.run(_opts(toolbox, standalone, mongodb_node="any", action="restore"))
    dump, restore = tools.calls(toolbox / "tools.log")
    assert "--oplog" not in dump["argv"] and "--oplogReplay" not in restore["argv"]


def test_a_failing_dump_stores_nothing(toolbox: Path, node: MongoWireDouble, monkeypatch) -> None:
    monkeypatch.setenv(tools.ENV_FAIL, "mongodump")
    with pytest.raises(EngineError, match="mongodump failed .*connection refused"):
        freezer_core.run(_opts(toolbox, node))
    assert not any(p.name == "metadata" for p in (toolbox / "store").rglob("*"))


def test_incremental_is_refused(toolbox: Path, node: MongoWireDouble) -> None:
    with pytest.raises(freezer_core.errors.ValidationError, match="incremental"):
        freezer_core.run(_opts(toolbox, node, incremental=True))


def test_validation_asks_the_engine_for_paths() -> None:
    """mongodump reads and restores the server, so neither --path-to-backup nor a restore target is asked for."""
    base = {"mode": "mongodb", "storage": "local", "container": "/b"}
    validate(Action.from_dict({**base, "engine": "mongodump"}))
    validate(Action.from_dict({**base, "engine": "mongodump", "action": "restore"}))
    with pytest.raises(ValidationError, match="--path-to-backup is required"):
        validate(Action.from_dict({**base, "engine": "tar"}))
