"""The mssql mode against SqlcmdDouble (a test double standing at the sqlcmd boundary)."""

from __future__ import annotations

from pathlib import Path

import pytest
from freezer_mode_mssql import MssqlMode

from freezer_core.errors import ConfigError, ModeError
from freezer_core.testing.mode import ModeTests
from tests.doubles import sqlcmd_double


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    sqlcmd_double.install(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{__import__('os').environ['PATH']}")
    monkeypatch.setenv(sqlcmd_double.ENV_LOG, str(tmp_path / "sqlcmd.log"))
    return tmp_path / "sqlcmd.log"


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "sql.conf"
    path.write_text("[default]\ninstance = PROD\nuser = sa\npassword = Sup3r#secret\n")
    return path


def mode(conf: Path, **extra: object) -> MssqlMode:
    return MssqlMode({"sql_server_conf": str(conf), "hostname": "win1", **extra})


class TestMssqlMode(ModeTests):
    @pytest.fixture
    def backup_mode(self, log: Path, conf: Path) -> MssqlMode:
        return mode(conf)

    @pytest.fixture
    def restore_mode(self, log: Path, conf: Path) -> MssqlMode:
        return mode(conf)

    def test_restoring_yields_a_directory(self, restore_mode: MssqlMode) -> None:
        with pytest.raises(ModeError, match="no .bak file"), restore_mode.restoring() as target:
            assert Path(target).is_dir()


def test_online_copy_only_backup_of_every_database(log: Path, conf: Path) -> None:
    with mode(conf).prepare() as source:
        assert source.path is not None
        assert sorted(p.name for p in source.path.iterdir()) == ["hr.bak", "shop.bak"]
        work = source.path
    assert not work.exists()
    runs = sqlcmd_double.calls(log)
    assert [r["query"].split(" TO ")[0] for r in runs] == [
        "SET NOCOUNT ON; SELECT name FROM sys.databases WHERE database_id > 4 AND state_desc = 'ONLINE' ORDER BY name",
        "BACKUP DATABASE [hr]", "BACKUP DATABASE [shop]"]
    assert all("WITH COPY_ONLY, CHECKSUM" in r["query"] for r in runs[1:])
    for run in runs:
        assert run["argv"][:3] == ["-S", "localhost\\PROD", "-b"] and "-U" in run["argv"]
        assert run["password_env"] and "Sup3r#secret" not in " ".join(run["argv"])
    assert not any("net stop" in " ".join(r["argv"]) for r in runs)  # the service keeps running


def test_restore_runs_restore_database_for_each_file(log: Path, conf: Path) -> None:
    with mode(conf).restoring() as target:
        (target / "shop.bak").write_bytes(b"MSSQL-BAK:shop")
    queries = [r["query"] for r in sqlcmd_double.calls(log)]
    assert len(queries) == 1 and queries[0].startswith("RESTORE DATABASE [shop] FROM DISK = N'")
    assert queries[0].endswith("WITH REPLACE, CHECKSUM, RECOVERY")


@pytest.mark.parametrize(("behaviour", "message"), [("login_failed", "refused the login"),
                                                    ("down", "cannot reach SQL Server"),
                                                    ("fail_backup", "Operating system error|terminating")])
def test_failures_are_one_clear_line_and_leave_nothing(log: Path, conf: Path, behaviour: str, message: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sqlcmd_double.ENV_BEHAVIOUR, behaviour)
    with pytest.raises(ModeError, match=message) as err, mode(conf, hostname="h").prepare():
        pass
    assert "\n" not in str(err.value) and "Sup3r" not in str(err.value)


def test_bad_config(tmp_path: Path, log: Path) -> None:
    with pytest.raises(ConfigError, match="needs --sql-server-conf"), MssqlMode({}).prepare():
        pass
    (tmp_path / "x.conf").write_text("[other]\n")
    with pytest.raises(ConfigError, match="no \\[default\\]"), mode(tmp_path / "x.conf").prepare():
        pass
