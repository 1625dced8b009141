"""freezer-agent: parsing generated from the options table, and one-line errors with exit codes."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

import freezer_core
from freezer_cli import agent
from freezer_cli.agent import cli, parse_action
from freezer_core import errors
from freezer_core.models import Action
from freezer_core.options import OPTIONS, Option, render_cli_reference

ROOT = Path(__file__).resolve().parent.parent


class FakeRun:
    """Stands in for freezer_core.run: records what it was given, returns or raises."""

    def __init__(self, result: dict[str, Any] | None = None, error: BaseException | None = None) -> None:
        self.result = result if result is not None else {"action": "backup", "curr_backup_level": 0}
        self.error = error
        self.calls: list[tuple[Action, Any]] = []

    def __call__(self, action: Action, **kwargs: Any) -> dict[str, Any]:
        progress = kwargs.pop("progress", None)
        assert not kwargs
        self.calls.append((action, progress))
        if self.error:
            raise self.error
        return self.result


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeRun:
    run = FakeRun()
    monkeypatch.setattr(freezer_core, "run", run)
    return run


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "freezer.log"


def invoke(*args: str, log: Path | None = None) -> Any:
    argv = list(args) + (["--log-file", str(log)] if log else [])
    return CliRunner().invoke(cli, argv)


def one_line_error(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("freezer-agent: error: "), output
    return lines[0]


# ---------------------------------------------------------------- parsing


def _sample(opt: Option) -> tuple[str, Any]:
    """A command-line value for the option and the value the Action must then hold."""
    if opt.choices:
        choice = opt.choices[-1]
        return choice, {"mongo": "mongodb", "sqlserver": "mssql"}.get(choice, choice)
    return {"int": ("7", 7), "float": ("1.5", 1.5), "size": ("2K", 2048),
            "date": ("2024-01-02T03:04:05", "2024-01-02T03:04:05")}.get(opt.type, ("some-value", "some-value"))


@pytest.mark.parametrize("opt", [o for o in OPTIONS if o.type != "bool" and o.dest != "config"],
                         ids=lambda o: o.dest)
def test_every_valued_option_parses_by_each_name(opt: Option) -> None:
    text, expected = _sample(opt)
    for name in (*opt.flags, *([opt.short] if opt.short else [])):
        assert parse_action([name, text])[opt.dest] == expected, name
    assert parse_action([f"{opt.flag}={text}"])[opt.dest] == expected


@pytest.mark.parametrize("opt", [o for o in OPTIONS if o.type == "bool"], ids=lambda o: o.dest)
def test_every_boolean_option_and_its_negation(opt: Option) -> None:
    names = (*opt.flags, *([opt.short] if opt.short else []))
    for name in names:
        assert parse_action([name])[opt.dest] is True, name
    for negation in opt.negations:
        assert parse_action([negation])[opt.dest] is False, negation
    assert parse_action([])[opt.dest] == opt.default_value()


def test_upstreams_short_flags() -> None:
    shorts = {o.short: o.dest for o in OPTIONS if o.short}
    assert shorts == {"-m": "mode", "-e": "engine_name", "-F": "path_to_backup", "-N": "backup_name",
                      "-C": "container", "-M": "max_segment_size", "-R": "remove_older_than",
                      "-s": "snapshot", "-q": "quiet", "-d": "debug"}


def test_nothing_given_means_every_default() -> None:
    assert parse_action([]) == Action()


def test_legacy_no_incremental_takes_a_value() -> None:
    assert parse_action(["--no-incremental", "true"]).no_incremental is True
    assert parse_action(["--no-incremental", "false"]).is_incremental() is True
    assert parse_action(["--no-incremental", "--mode", "nova"]).no_incremental is True
    assert parse_action(["--nono-incremental"]).no_incremental is False
    assert parse_action([]).no_incremental is None


def test_incremental_and_noincremental() -> None:
    assert parse_action(["--incremental"]).is_incremental()
    assert not parse_action(["--noincremental"]).is_incremental()


def test_sizes_and_plain_integers() -> None:
    action = parse_action(["--upload-limit", "10M", "--download-limit", "-1", "-M", "64M"])
    assert (action.upload_limit, action.download_limit, action.max_segment_size) == (10485760, -1, 67108864)
    assert parse_action(["--max-segment-size", "1048576"]).max_segment_size == 1048576


def test_unique_prefixes_are_accepted_like_upstream() -> None:
    assert parse_action(["--compress", "xz"]).compression == "xz"
    assert parse_action(["--path-to", "/srv", "--backup-n", "n"]).path_to_backup == "/srv"
    with pytest.raises(click.UsageError, match="ambiguous"):
        parse_action(["--remove", "3"])


def test_option_values_that_look_like_prefixes_are_left_alone() -> None:
    assert parse_action(["--command", "--compress"]).command == "--compress"


@pytest.mark.parametrize("argv, expected", [
    ("--path-to-backup /opt/test/ --storage local --container /opt/backup --backup-name backup-name2",
     {"action": "backup", "path_to_backup": "/opt/test/", "storage": "local", "container": "/opt/backup",
      "backup_name": "backup-name2", "mode": "fs", "engine_name": "tar"}),
    (("--action backup --mode mysql --path-to-backup /var/lib/mysql/ --mysql-conf /etc/mysql/freezer.cnf "
     "--container /home/backuptest --storage local --backup-name mysqlbackup"),
     {"mode": "mysql", "mysql_conf": "/etc/mysql/freezer.cnf", "container": "/home/backuptest"}),
    ("--mode nova --no-incremental true --nova-inst-id ID --backup-name nova_backup --engine nova",
     {"mode": "nova", "no_incremental": True, "nova_inst_id": "ID", "backup_name": "nova_backup",
      "engine_name": "nova", "container": "freezer_backups", "storage": "swift"}),
    ("--action restore --mode nova --nova-inst-id ID --backup-name nova_backup --engine nova",
     {"action": "restore", "mode": "nova", "nova_inst_id": "ID", "engine_name": "nova"}),
    (("--action admin --nova-inst-id ID --backup-name nova_backup --engine nova "
     "--remove-from-date 2019-10-19T00:29:27"),
     {"action": "admin", "remove_from_date": "2019-10-19T00:29:27", "engine_name": "nova"}),
    (("--mode cindernative --cindernative-vol-id 545f2b02-8ef5-4393-a3bb-6ed142acbcc5 "
     "--backup-name cinder_backup"),
     {"mode": "cindernative", "cindernative_vol_id": "545f2b02-8ef5-4393-a3bb-6ed142acbcc5"}),
])
def test_the_deployment_notes_commands(argv: str, expected: dict[str, Any]) -> None:
    action = parse_action(argv.split())
    for key, value in expected.items():
        assert action[key] == value, key


def test_environment_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "env-secret")
    assert parse_action([]).secret_key == "env-secret"
    assert parse_action(["--secret-key", "cli"]).secret_key == "cli"


def test_help_lists_upstream_names() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for text in ("--path-to-backup", "-F", "--nosync", "--no-incremental", "--encrypt-format",
                 "[default: 8388608]"):
        assert text in result.output


# ---------------------------------------------------------------- running and output


def test_a_valid_command_runs_the_action(tmp_path: Path, fake: FakeRun, log: Path) -> None:
    result = invoke("--path-to-backup", str(tmp_path), "--storage", "local", "--container", "/b", log=log)
    assert result.exit_code == 0, result.output
    [(action, progress)] = fake.calls
    assert action.path_to_backup == str(tmp_path)
    assert progress is None  # not a terminal: no progress line
    assert result.output == ""


def test_metadata_out_to_stdout(fake: FakeRun, log: Path) -> None:
    result = invoke("--action", "exec", "--command", "true", "--metadata-out", "-", log=log)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == fake.result


def test_metadata_out_to_a_file(tmp_path: Path, fake: FakeRun, log: Path) -> None:
    out = tmp_path / "result.json"
    result = invoke("--action", "exec", "--command", "true", "--metadata-out", str(out), log=log)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == fake.result


def test_metadata_out_in_a_missing_directory(tmp_path: Path, fake: FakeRun, log: Path) -> None:
    result = invoke("--action", "exec", "--command", "true", "--metadata-out", str(tmp_path / "no/r.json"),
                    log=log)
    assert result.exit_code == 2
    assert "--metadata-out" in one_line_error(result.output)
    assert fake.calls == []


def test_progress_on_a_terminal(monkeypatch: pytest.MonkeyPatch, fake: FakeRun, log: Path) -> None:
    monkeypatch.setattr(agent, "_is_tty", lambda stream: True)
    result = invoke("--action", "exec", "--command", "true", log=log)
    assert result.exit_code == 0
    assert callable(fake.calls[0][1])
    fake.calls.clear()
    assert invoke("--action", "exec", "--command", "true", "-q", log=log).exit_code == 0
    assert fake.calls[0][1] is None  # quiet: no progress either


def test_progress_line_shows_bytes_rate_and_eta() -> None:
    class Stream:
        text = ""

        def write(self, s: str) -> None:
            self.text += s

        def flush(self) -> None:
            pass

    ticks = iter([0.0, 1.0, 2.0, 3.0])
    stream = Stream()
    progress = agent._Progress(stream, clock=lambda: next(ticks))  # type: ignore[arg-type]
    progress(1024 * 1024, 4 * 1024 * 1024)
    progress(2 * 1024 * 1024, None)
    progress.close()
    assert "1.0 MiB of 4.0 MiB (25%), 1.0 MiB/s, 3 s left" in stream.text
    assert "2.0 MiB, 1.0 MiB/s" in stream.text
    assert stream.text.endswith("\n")


def test_secrets_never_reach_the_log(fake: FakeRun, log: Path) -> None:
    result = invoke("--action", "exec", "--command", "true", "--ssh-password", "hunter2",
                    "--secret-key", "s3cr3t", "--debug", log=log)
    assert result.exit_code == 0, result.output
    text = log.read_text()
    assert "exec" in text
    assert "hunter2" not in text and "s3cr3t" not in text


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("error", [
    errors.StorageError("storage unreachable: check the host"),
    errors.IntegrityError("segment 3 is corrupted: run a new backup"),
    errors.EngineError("tar failed: see the log"),
    errors.BackupNotFound("no backup before 2019-01-01: pick a later date"),
    errors.PluginNotInstalled("storage", "s3"),
    errors.Interrupted("interrupted"),
])
def test_freezer_errors_are_one_line_with_their_exit_code(monkeypatch: pytest.MonkeyPatch, log: Path,
                                                          error: errors.FreezerError) -> None:
    monkeypatch.setattr(freezer_core, "run", FakeRun(error=error))
    result = invoke("--action", "exec", "--command", "true", log=log)
    assert result.exit_code == error.exit_code
    assert one_line_error(result.output) == f"freezer-agent: error: {error.message}"


def test_keyboard_interrupt_exits_8(monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    monkeypatch.setattr(freezer_core, "run", FakeRun(error=KeyboardInterrupt()))
    result = invoke("--action", "exec", "--command", "true", log=log)
    assert result.exit_code == 8
    assert "interrupted" in one_line_error(result.output)


def test_unexpected_exception_is_one_line_and_the_traceback_goes_to_the_log(
        monkeypatch: pytest.MonkeyPatch, log: Path) -> None:
    monkeypatch.setattr(freezer_core, "run", FakeRun(error=RuntimeError("boom")))
    result = invoke("--action", "exec", "--command", "true", log=log)
    assert result.exit_code == 1
    line = one_line_error(result.output)
    assert "RuntimeError: boom" in line and str(log) in line
    assert "Traceback" not in result.output
    assert "Traceback" in log.read_text()


@pytest.mark.parametrize("argv, word", [
    (["--bogus-option"], "--bogus-option"),
    (["--compression", "rar", "--action", "exec", "--command", "x"], "--compression"),
    (["--timeout", "soon"], "--timeout"),
    (["--upload-limit", "fast"], "--upload-limit"),
    (["--mode", "nova", "--nova-inst-id", "ID", "--no-incremental", "true"], "--engine nova"),
    (["--action", "admin"], "--remove-older-than"),
])
def test_bad_input_is_one_line_and_exit_2(fake: FakeRun, log: Path, argv: list[str], word: str) -> None:
    result = invoke(*argv, log=log)
    assert result.exit_code == 2, result.output
    assert word in one_line_error(result.output)
    assert fake.calls == []


def test_an_unwritable_log_file_falls_back_to_stderr(tmp_path: Path, fake: FakeRun) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = invoke("--action", "exec", "--command", "true", "--log-file", str(blocker / "sub" / "x.log"))
    assert result.exit_code == 0
    assert "freezer-agent: warning: cannot write the log file" in result.stderr
    assert fake.calls


def test_logging_handlers_are_removed_after_a_run(fake: FakeRun, log: Path) -> None:
    before = list(logging.getLogger().handlers)
    invoke("--action", "exec", "--command", "true", log=log)
    assert logging.getLogger().handlers == before


# ---------------------------------------------------------------- a real run, and the docs


def test_a_real_local_backup_through_the_cli(tmp_path: Path, log: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("hello\n")
    result = invoke("--path-to-backup", str(src), "--storage", "local", "--container",
                    str(tmp_path / "backups"), "--backup-name", "backup-name2", "--metadata-out", "-",
                    log=log)
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["backup_name"] == "backup-name2"
    assert record["curr_backup_level"] == 0


def test_docs_cli_reference_is_up_to_date() -> None:
    assert (ROOT / "docs" / "cli.md").read_text() == render_cli_reference(), (
        "docs/cli.md is stale: regenerate it with freezer_core.options.render_cli_reference()")
