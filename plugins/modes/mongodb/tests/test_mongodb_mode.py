"""The mongodb mode against MongoWireDouble (a test double speaking the MongoDB wire protocol)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from freezer_mode_mongodb import MongodbMode, redact_uri

from freezer_core.errors import ConfigError, ModeError
from freezer_core.testing.mode import ModeTests
from tests.doubles.mongo_wire_double import MongoWireDouble, mongo_double


@pytest.fixture
def double() -> Iterator[MongoWireDouble]:
    with mongo_double() as d:
        yield d


def mode(double: MongoWireDouble, tmp_path: Path, **extra: object) -> MongodbMode:
    (tmp_path / "db").mkdir(exist_ok=True)
    return MongodbMode({"mongodb_uri": double.uri, "path_to_backup": str(tmp_path / "db"), "hostname": "n1",
                        "timeout": 2, **extra})


class TestMongodbMode(ModeTests):
    @pytest.fixture
    def backup_mode(self, double: MongoWireDouble, tmp_path: Path) -> MongodbMode:
        return mode(double, tmp_path)

    @pytest.fixture
    def restore_mode(self, tmp_path: Path) -> MongodbMode:
        return MongodbMode({"restore_abs_path": str(tmp_path / "restore")})


def test_lock_copy_unlock_in_that_order(double: MongoWireDouble, tmp_path: Path) -> None:
    with mode(double, tmp_path).prepare() as source:
        assert double.locked and source.path == tmp_path / "db"
        assert double.sequence() == ["hello", "fsync"]
    assert not double.locked
    assert double.sequence() == ["hello", "fsync", "fsyncUnlock"]
    fsync = next(doc for name, doc in double.commands if name == "fsync")
    assert fsync["lock"] is True


def test_unlock_even_when_the_copy_fails(double: MongoWireDouble, tmp_path: Path) -> None:
    with pytest.raises(OSError), mode(double, tmp_path).prepare():
        raise OSError("disk full")
    assert double.sequence() == ["hello", "fsync", "fsyncUnlock"] and not double.locked


def test_refuses_a_secondary_unless_asked(tmp_path: Path) -> None:
    with mongo_double(role="secondary") as d:
        with pytest.raises(ModeError, match="not the primary"), mode(d, tmp_path).prepare():
            pass
        assert "fsync" not in d.sequence()
        with mode(d, tmp_path, mongodb_node="secondary").prepare():
            assert d.locked
        assert d.sequence()[-2:] == ["fsync", "fsyncUnlock"]
    with mongo_double(role="primary") as d:
        with pytest.raises(ModeError, match="not a secondary"), mode(d, tmp_path, mongodb_node="secondary").prepare():
            pass


def test_a_lock_that_cannot_be_taken_is_one_clear_error(tmp_path: Path) -> None:
    with mongo_double(fail={"fsync": 8000}) as d:
        with pytest.raises(ModeError, match="taking fsyncLock"), mode(d, tmp_path).prepare():
            pass
        assert d.sequence() == ["hello", "fsync"]


def test_wrong_credentials_and_server_down(tmp_path: Path) -> None:
    with mongo_double(fail={"hello": 18}) as d:
        with pytest.raises(ModeError, match="refused the login"), mode(d, tmp_path).prepare():
            pass
    down = MongoWireDouble()
    down.stop()  # never started: nothing listens on its port
    with pytest.raises(ModeError, match="cannot reach MongoDB"), mode(down, tmp_path, timeout=1).prepare():
        pass
    with pytest.raises(ConfigError, match="not a MongoDB URI"), \
            MongodbMode({"mongodb_uri": "http://x", "path_to_backup": str(tmp_path)}).prepare():
        pass


def test_password_is_redacted() -> None:
    assert redact_uri("mongodb://admin:s3cret@db1:27017/?authSource=admin") == \
        "mongodb://admin:***@db1:27017/?authSource=admin"
