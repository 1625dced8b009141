"""``--config`` INI files: sections, storages, value spellings, errors and precedence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import freezer_core
from freezer_cli.agent import cli
from freezer_core.config import load_config
from freezer_core.errors import ConfigError
from freezer_core.models import Action


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.ini"
    path.write_text(text)
    return path


def test_default_and_action_sections_merge_into_options(tmp_path: Path) -> None:
    options, storages = load_config(write(tmp_path, """
[default]
path_to_backup = /srv
backup-name = srv
engine = tar

[action]
action = backup
max_level = 3
"""))
    assert options == {"path_to_backup": "/srv", "backup_name": "srv", "engine_name": "tar",
                       "action": "backup", "max_level": "3"}
    assert storages == []


def test_upstream_boolean_spellings(tmp_path: Path) -> None:
    options, _ = load_config(write(tmp_path, """
[action]
a = False
b = false
c = None
d = True
e = true
f = yes
"""))
    assert options == {"a": False, "b": False, "c": False, "d": True, "e": True, "f": "yes"}


def test_storage_sections_become_storage_dicts(tmp_path: Path) -> None:
    options, storages = load_config(write(tmp_path, """
[default]
path_to_backup = /srv

[storage:local1]
storage = local
container = /backups/one

[storage:remote]
storage = ssh
container = /backups/two
ssh_host = backup.example
ssh-port = 2222
"""))
    assert options == {"path_to_backup": "/srv"}
    assert storages == [
        {"name": "local1", "storage": "local", "container": "/backups/one"},
        {"name": "remote", "storage": "ssh", "container": "/backups/two", "ssh_host": "backup.example",
         "ssh_port": "2222"},
    ]
    action = Action.from_dict({**options, "storages": storages})
    assert action.storages == storages


def test_the_scheduler_writes_str_of_python_values(tmp_path: Path) -> None:
    # freezer-scheduler writes `k = str(v)` for each freezer_action key.
    options, _ = load_config(write(tmp_path, "[action]\nno_incremental = True\nmax_level = None\n"
                                             "timeout = 120\ndry_run = False\n"))
    action = Action.from_dict(options)
    assert action.no_incremental is True
    assert action.max_level is None and action.timeout == 120 and action.dry_run is False


def test_percent_signs_are_not_interpolated(tmp_path: Path) -> None:
    options, _ = load_config(write(tmp_path, "[default]\nlvm_snapsize = 10%\n"))
    assert options["lvm_snapsize"] == "10%"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--config: .*missing\.ini does not exist"):
        load_config(tmp_path / "missing.ini")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config: cannot read"):
        load_config(tmp_path)  # a directory


def test_malformed_file_names_the_path(tmp_path: Path) -> None:
    path = write(tmp_path, "path_to_backup = /srv\n")
    with pytest.raises(ConfigError, match=str(path)):
        load_config(path)


def test_storage_section_without_container(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[storage:x\].*container"):
        load_config(write(tmp_path, "[storage:x]\nstorage = local\n"))


# ---------------------------------------------------------------- precedence, through the agent


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Action]:
    seen: list[Action] = []

    def fake_run(action: Action, *, progress: Any = None) -> dict[str, Any]:
        seen.append(action)
        return {"curr_backup_level": 0}

    monkeypatch.setattr(freezer_core, "run", fake_run)
    return seen


def test_command_line_flags_override_the_file(tmp_path: Path, captured: list[Action]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    path = write(tmp_path, f"""
[action]
path_to_backup = {src}
storage = local
container = /from/file
backup_name = file-name
compression = xz
dry_run = True
""")
    result = CliRunner().invoke(cli, ["--config", str(path), "--container", "/from/cli",
                                      "--compression", "zstd", "--nodry-run",
                                      "--log-file", str(tmp_path / "log")])
    assert result.exit_code == 0, result.output
    [action] = captured
    assert action.container == "/from/cli"  # flag wins
    assert action.compression == "zstd"
    assert action.dry_run is False
    assert action.backup_name == "file-name"  # only in the file: the file's value
    assert action.storage == "local"
    assert action.mode == "fs"  # in neither: the default


def test_file_overrides_environment(tmp_path: Path, captured: list[Action],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_KEY", "from-env")
    monkeypatch.setenv("ENDPOINT", "http://env")
    path = write(tmp_path, "[default]\naction = exec\ncommand = true\naccess_key = from-file\n")
    result = CliRunner().invoke(cli, ["--config", str(path), "--log-file", str(tmp_path / "log")])
    assert result.exit_code == 0, result.output
    assert captured[0].access_key == "from-file"
    assert captured[0].endpoint == "http://env"


def test_a_bad_config_file_is_one_line_and_exit_2(tmp_path: Path, captured: list[Action]) -> None:
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "nope.ini")])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert result.output.startswith("freezer-agent: error: --config:")
    assert captured == []
