"""What validation asks of the mariabackup engine class (its round trips run against a real MariaDB in
tests/test_mode_mysql_e2e.py)."""

from __future__ import annotations

import pytest

from freezer_core.errors import ValidationError
from freezer_core.models import Action
from freezer_core.validation import validate

BASE = {"mode": "mysql", "engine": "mariabackup", "storage": "local", "container": "/b"}


def test_a_backup_needs_no_path_to_backup() -> None:
    validate(Action.from_dict(BASE))  # the server named by the mode's defaults file is the source


def test_a_restore_still_needs_a_target() -> None:
    with pytest.raises(ValidationError, match="--action restore needs a target"):
        validate(Action.from_dict({**BASE, "action": "restore"}))
    validate(Action.from_dict({**BASE, "action": "restore", "restore_abs_path": "/var/lib/mysql-restored"}))
