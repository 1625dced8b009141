"""--mysql-conf parsing and the private option file (no server needed; see tests/test_mode_mysql_e2e.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from freezer_mode_mysql import MysqlMode, read_settings

from freezer_core.errors import ConfigError, ValidationError


def test_the_deployment_note_file_works_as_written(tmp_path: Path) -> None:
    conf = tmp_path / "freezer.cnf"
    conf.write_text("[default]\nhost = localhost\nuser = root\npassword = stack\n")
    s = read_settings(str(conf))
    assert (s.host, s.user, s.password, s.port) == ("localhost", "root", "stack", 3306)


def test_a_client_section_and_quoted_values(tmp_path: Path) -> None:
    conf = tmp_path / "my.cnf"
    conf.write_text("!includedir /etc/mysql/conf.d/\n[client]\nuser=backup\npassword=\"p#w d\"\nport=3307\n"
                    "socket=/run/mysqld/mysqld.sock\n[mysqld]\nskip-name-resolve\n")
    s = read_settings(str(conf))
    assert (s.user, s.password, s.port, s.socket) == ("backup", "p#w d", 3307, "/run/mysqld/mysqld.sock")


def test_bad_port_is_a_config_error(tmp_path: Path) -> None:
    conf = tmp_path / "c.cnf"
    conf.write_text("[default]\nport = abc\n")
    with pytest.raises(ConfigError, match="not a TCP port"):
        read_settings(str(conf))


def test_strategy_must_match_the_engine() -> None:
    assert MysqlMode({"engine_name": "mariabackup"}).strategy == "physical"
    assert MysqlMode({"engine_name": "tar"}).strategy == "upstream"
    with pytest.raises(ValidationError, match="needs --engine mariabackup"):
        MysqlMode({"engine_name": "tar", "mysql_strategy": "physical"})
