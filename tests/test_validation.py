"""Every validation rule: one test each, and the message names the option to fix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from freezer_core.errors import ValidationError
from freezer_core.models import Action
from freezer_core.validation import parse_date, validate


@pytest.fixture
def src(tmp_path: Path) -> str:
    (tmp_path / "src").mkdir()
    return str(tmp_path / "src")


def fs_backup(src: str, **extra: Any) -> Action:
    return Action.from_dict({"path_to_backup": src, "storage": "local", "container": "/b", **extra})


def rejects(action: Action, *words: str) -> str:
    with pytest.raises(ValidationError) as info:
        validate(action)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message
    return message


# ---------------------------------------------------------------- what passes


def test_a_plain_fs_backup_is_valid(src: str) -> None:
    validate(fs_backup(src))


@pytest.mark.parametrize("doc", [
    {"mode": "nova", "no_incremental": True, "nova_inst_id": "ID", "backup_name": "nova_backup",
     "engine": "nova"},
    {"action": "restore", "mode": "nova", "nova_inst_id": "ID", "backup_name": "nova_backup", "engine": "nova"},
    {"action": "admin", "nova_inst_id": "ID", "backup_name": "nova_backup", "engine": "nova",
     "remove_from_date": "2019-10-19T00:29:27"},
    {"mode": "cindernative", "cindernative_vol_id": "545f2b02-8ef5-4393-a3bb-6ed142acbcc5",
     "backup_name": "cinder_backup"},
])
def test_the_deployment_notes_commands_are_valid(doc: dict[str, Any]) -> None:
    validate(Action.from_dict(doc))


# ---------------------------------------------------------------- backup


def test_fs_backup_needs_path_to_backup() -> None:
    rejects(Action.from_dict({"storage": "local", "container": "/b"}), "--path-to-backup", "required")


def test_fs_backup_path_must_exist(tmp_path: Path) -> None:
    rejects(fs_backup(str(tmp_path / "missing")), "--path-to-backup", "does not exist")


def test_mysql_backup_needs_path_to_backup() -> None:
    rejects(Action.from_dict({"mode": "mysql", "storage": "local", "container": "/b"}), "--path-to-backup")


def test_no_incremental_true_excludes_max_level(src: str) -> None:
    rejects(fs_backup(src, no_incremental=True, max_level=3), "--max-level", "--no-incremental")


def test_no_incremental_true_excludes_always_level(src: str) -> None:
    rejects(fs_backup(src, no_incremental="true", always_level=1), "--always-level", "--no-incremental")


def test_levels_need_incremental(src: str) -> None:
    rejects(fs_backup(src, max_level=3), "--max-level", "needs --incremental")
    rejects(fs_backup(src, restart_always_level=7), "--restart-always-level", "needs --incremental")
    validate(fs_backup(src, max_level=3, incremental=True))
    validate(fs_backup(src, always_level=1, no_incremental=False))


def test_incremental_contradicts_no_incremental_true(src: str) -> None:
    rejects(fs_backup(src, incremental=True, no_incremental=True), "--incremental", "--no-incremental")


def test_mode_nova_without_engine_nova_is_a_clear_error() -> None:
    message = rejects(Action.from_dict({"mode": "nova", "nova_inst_id": "ID", "no_incremental": True}),
                      "--mode nova", "--engine nova")
    assert "NoneType" not in message


def test_mode_glance_needs_engine_glance() -> None:
    rejects(Action.from_dict({"mode": "glance", "glance_image_id": "i"}), "--mode glance", "--engine glance")


def test_nova_needs_an_instance_or_project() -> None:
    rejects(Action.from_dict({"mode": "nova", "engine": "nova"}), "--nova-inst-id", "--project-id")
    validate(Action.from_dict({"mode": "nova", "engine": "nova", "project_id": "p"}))
    validate(Action.from_dict({"mode": "nova", "engine": "nova", "nova_inst_name": "web"}))


def test_nova_cannot_be_incremental() -> None:
    rejects(Action.from_dict({"mode": "nova", "engine": "nova", "nova_inst_id": "i", "incremental": True}),
            "--mode nova", "incremental")
    rejects(Action.from_dict({"mode": "nova", "engine": "nova", "nova_inst_id": "i",
                              "no_incremental": False}), "--mode nova")


def test_glance_needs_an_image_or_project() -> None:
    rejects(Action.from_dict({"mode": "glance", "engine": "glance"}), "--glance-image-id")


def test_cinder_needs_a_volume() -> None:
    rejects(Action.from_dict({"mode": "cinder"}), "--cinder-vol-id", "--cinder-vol-name")
    validate(Action.from_dict({"mode": "cinder", "cinder_vol_name": "v"}))


def test_cindernative_needs_a_volume_or_backup_id() -> None:
    rejects(Action.from_dict({"mode": "cindernative"}), "--cindernative-vol-id")
    validate(Action.from_dict({"mode": "cindernative", "cindernative_backup_id": "b"}))


def test_cinderbrick_needs_a_volume() -> None:
    rejects(Action.from_dict({"mode": "cinderbrick"}), "--cinderbrick-vol-id")


def test_encrypt_pass_file_must_exist(src: str, tmp_path: Path) -> None:
    rejects(fs_backup(src, encrypt_pass_file=str(tmp_path / "nope")), "--encrypt-pass-file", "does not exist")


def test_ssh_storage_needs_a_host(src: str) -> None:
    rejects(fs_backup(src, storage="ssh"), "--ssh-host")


# ---------------------------------------------------------------- restore, admin, exec


def test_restore_needs_a_target() -> None:
    rejects(Action.from_dict({"action": "restore"}), "--action restore", "--restore-abs-path")
    validate(Action.from_dict({"action": "restore", "restore_abs_path": "/tmp/x"}))
    validate(Action.from_dict({"action": "restore", "project_id": "p"}))
    validate(Action.from_dict({"action": "restore", "cinderbrick_vol_id": "v"}))


def test_admin_needs_a_removal_option() -> None:
    rejects(Action.from_dict({"action": "admin"}), "--remove-older-than", "--remove-before-date",
            "--remove-from-date")
    validate(Action.from_dict({"action": "admin", "remove_older_than": 30}))
    validate(Action.from_dict({"action": "admin", "remove_older_than": 0}))
    validate(Action.from_dict({"action": "admin", "remove_before_date": "2024-01-01"}))


def test_admin_takes_only_one_removal_option() -> None:
    rejects(Action.from_dict({"action": "admin", "remove_older_than": 3, "remove_from_date": "2024-01-01"}),
            "--remove-older-than", "--remove-from-date", "only one")


def test_exec_needs_a_command() -> None:
    rejects(Action.from_dict({"action": "exec"}), "--command")
    rejects(Action.from_dict({"action": "exec", "command": "   "}), "--command")
    validate(Action.from_dict({"action": "exec", "command": "true"}))


# ---------------------------------------------------------------- single values


@pytest.mark.parametrize("dest, flag", [("action", "--action"), ("compression", "--compression"),
                                        ("encrypt_format", "--encrypt-format"),
                                        ("dereference_symlink", "--dereference-symlink")])
def test_unknown_choice_values(src: str, dest: str, flag: str) -> None:
    rejects(fs_backup(src, **{dest: "bogus"}), flag, "bogus")


def test_unknown_mode() -> None:
    rejects(Action.from_dict({"mode": "bogus"}), "--mode", "bogus")


@pytest.mark.parametrize("dest, value, flag", [
    ("max_segment_size", 0, "--max-segment-size"), ("max_segment_size", "-1M", "--max-segment-size"),
    ("rsync_block_size", -4, "--rsync-block-size"), ("upload_limit", -2, "--upload-limit"),
    ("download_limit", "-10K", "--download-limit"), ("max_level", -1, "--max-level"),
    ("remove_older_than", -3, "--remove-older-than"), ("timeout", 0, "--timeout"),
    ("ssh_port", 70000, "--ssh-port"),
])
def test_negative_or_impossible_numbers(src: str, dest: str, value: Any, flag: str) -> None:
    rejects(fs_backup(src, incremental=True, **{dest: value}), flag)


def test_unlimited_bandwidth_is_minus_one(src: str) -> None:
    validate(fs_backup(src, upload_limit=-1, download_limit="10M"))


@pytest.mark.parametrize("dest, flag", [("restore_from_date", "--restore-from-date"),
                                        ("remove_before_date", "--remove-before-date"),
                                        ("remove_from_date", "--remove-from-date")])
def test_dates_that_do_not_parse(dest: str, flag: str) -> None:
    rejects(Action.from_dict({"action": "restore", "restore_abs_path": "/x", dest: "yesterday"}), flag,
            "YYYY-MM-DD")


@pytest.mark.parametrize("text, expected", [
    ("2019-10-19T00:29:27", datetime(2019, 10, 19, 0, 29, 27, tzinfo=UTC)),
    ("2019-10-19 00:29:27", datetime(2019, 10, 19, 0, 29, 27, tzinfo=UTC)),
    ("2019-10-19T00:29:27Z", datetime(2019, 10, 19, 0, 29, 27, tzinfo=UTC)),
    ("2019-10-19T02:29:27+02:00", datetime(2019, 10, 19, 2, 29, 27, tzinfo=timezone(timedelta(hours=2)))),
    ("2019-10-19", datetime(2019, 10, 19, tzinfo=UTC)),
])
def test_parse_date_accepts_the_documented_forms(text: str, expected: datetime) -> None:
    parsed = parse_date(text)
    assert parsed == expected and parsed.tzinfo is not None


def test_unknown_backup_name_placeholder(src: str) -> None:
    rejects(fs_backup(src, backup_name="{host}"), "--backup-name", "{host}")
