"""--mode mysql end to end against a real MariaDB: back up under load, restore, start a server on it.

A writer keeps committing transactions while the backup runs.  Each one
inserts a batch of rows into ``t`` and adds the batch size to the single row
of ``total``, so a restored datadir is consistent exactly when every batch is
whole and ``total`` equals the row count.  The restored rows must also be a
prefix of the live table (same checksum over the same ids): the state of one
point in time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

import freezer_core
from freezer_core.errors import ModeError
from tests.services import Service
from tests.services.mariadb import second_server

BATCH = 5
AGENT = str(Path(sys.executable).with_name("freezer-agent"))


def connect(env: dict[str, str], port: int | None = None, db: str | None = None) -> Any:
    return pymysql.connect(host=env["MARIADB_TEST_HOST"], port=port or int(env["MARIADB_TEST_PORT"]),
                           user=env["MARIADB_TEST_USER"], password=env["MARIADB_TEST_PASSWORD"],
                           database=db, autocommit=True)


class Writer(threading.Thread):
    """Commits batches into ``db.t`` + ``db.total`` until stopped."""

    def __init__(self, env: dict[str, str], db: str) -> None:
        super().__init__(daemon=True)
        self.env, self.db = env, db
        self.halt = threading.Event()
        self.batches = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            conn = connect(self.env, db=self.db)
            conn.autocommit(False)
            with conn.cursor() as cur:
                while not self.halt.is_set():
                    cur.executemany("INSERT INTO t (batch, payload) VALUES (%s, %s)",
                                    [(self.batches, uuid.uuid4().hex * 4) for _ in range(BATCH)])
                    cur.execute("UPDATE total SET n = n + %s", (BATCH,))
                    conn.commit()
                    self.batches += 1
            conn.close()
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def stop(self) -> None:
        self.halt.set()
        self.join(120)
        assert self.error is None, f"writer failed: {self.error}"


@pytest.fixture
def db(mariadb_server: Service) -> Iterator[str]:
    name = f"freezer_{uuid.uuid4().hex[:8]}"
    conn = connect(mariadb_server.env)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
        cur.execute(f"CREATE TABLE {name}.t (id INT PRIMARY KEY AUTO_INCREMENT, batch INT, "
                    f"payload VARCHAR(200)) ENGINE=InnoDB")
        cur.execute(f"CREATE TABLE {name}.total (n INT NOT NULL) ENGINE=InnoDB")
        cur.execute(f"INSERT INTO {name}.total VALUES (0)")
        cur.execute(f"CREATE TABLE {name}.aria (id INT PRIMARY KEY, v TEXT) ENGINE=Aria")
        cur.execute(f"INSERT INTO {name}.aria VALUES (1, 'aria-row')")
    yield name
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
    conn.close()


@pytest.fixture
def mysql_conf(tmp_path: Path, mariadb_server: Service) -> Path:
    """Upstream's --mysql-conf, exactly the deployment note's [default] section (plus the port)."""
    env = mariadb_server.env
    path = tmp_path / "freezer.cnf"
    path.write_text(f"[default]\nhost = {env['MARIADB_TEST_HOST']}\nuser = {env['MARIADB_TEST_USER']}\n"
                    f"password = {env['MARIADB_TEST_PASSWORD']}\nport = {env['MARIADB_TEST_PORT']}\n")
    path.chmod(0o600)
    return path


def state_of(env: dict[str, str], db: str, port: int | None = None, upto: int | None = None) -> tuple[int, int, int]:
    """(row count, total.n, checksum) of ``db`` — over ids <= ``upto`` when given."""
    conn = connect(env, port=port, db=db)
    with conn.cursor() as cur:
        cond = f"WHERE id <= {int(upto)}" if upto is not None else ""
        cur.execute(f"SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT(id, ':', batch, ':', payload))), 0) FROM t {cond}")
        count, checksum = cur.fetchone()
        cur.execute("SELECT n FROM total")
        (total,) = cur.fetchone()
    conn.close()
    return int(count), int(total), int(checksum)


def check_restored(service: Service, db: str, datadir: Path) -> int:
    """Start a server on ``datadir``; assert it holds one consistent point in time; return its rows."""
    env = service.env
    with second_server(service, datadir) as port:
        conn = connect(env, port=port, db=db)
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM (SELECT batch FROM t GROUP BY batch HAVING COUNT(*) <> %s) AS x",
                        (BATCH,))
            assert cur.fetchone()[0] == 0, "a transaction was restored half"
            cur.execute("SELECT COALESCE(MAX(id), 0) FROM t")
            (max_id,) = cur.fetchone()
            cur.execute("SELECT v FROM aria")
            assert cur.fetchone()[0] == "aria-row"
        conn.close()
        count, total, checksum = state_of(env, db, port=port)
    assert count == total, f"row count {count} does not match the committed total {total}"
    assert (count, checksum) == state_of(env, db, upto=max_id)[::2], "restored rows differ from the live ones"
    return count


def backup(env_args: dict[str, Any]) -> dict[str, Any]:
    return freezer_core.run({"action": "backup", "mode": "mysql", "storage": "local", **env_args})


def test_hot_physical_backup_under_load_with_an_increment(tmp_path: Path, mariadb_server: Service,
                                                          db: str, mysql_conf: Path) -> None:
    env = mariadb_server.env
    common = {"engine": "mariabackup", "mysql_conf": str(mysql_conf), "container": str(tmp_path / "store"),
              "backup_name": "mysqlbackup", "path_to_backup": env["MARIADB_TEST_DATADIR"],
              "incremental": True, "compression": "zstd"}
    writer = Writer(env, db)
    writer.start()
    try:
        first = backup(common)
        mid = writer.batches
        second = backup(common)
        assert writer.batches > 0
    finally:
        writer.stop()
    assert (first["curr_backup_level"], second["curr_backup_level"]) == (0, 1)
    states = sorted((tmp_path / "store").rglob("engine_metadata"), key=lambda p: p.parent.name)
    assert [b"backup_type = incremental" in p.read_bytes() for p in states] == [False, True]
    restored = tmp_path / "datadir"
    result = freezer_core.run({"action": "restore", "mode": "mysql", "storage": "local", **common,
                               "restore_abs_path": str(restored)})
    assert result["restored_levels"] == [0, 1]
    assert check_restored(mariadb_server, db, restored) >= mid * BATCH


@pytest.mark.parametrize("strategy", [[], ["--mysql-strategy", "upstream"]], ids=["default-hot", "upstream"])
def test_the_deployment_note_command(tmp_path: Path, mariadb_server: Service, db: str, mysql_conf: Path,
                                     strategy: list[str]) -> None:
    """The note's command as written: hot physical by default here, upstream's lock + copy on request."""
    env = mariadb_server.env
    store = tmp_path / "backuptest"
    writer = Writer(env, db)
    writer.start()
    try:
        done = subprocess.run([AGENT, "--action", "backup", "--mode", "mysql", "--path-to-backup",
                               env["MARIADB_TEST_DATADIR"] + "/", "--mysql-conf", str(mysql_conf), "--container",
                               str(store), "--storage", "local", "--backup-name", "mysqlbackup",
                               "--log-file", str(tmp_path / "agent.log"), *strategy], capture_output=True, text=True)
    finally:
        writer.stop()
    assert done.returncode == 0, done.stderr
    log = (tmp_path / "agent.log").read_text()
    if strategy:
        assert "lock is held on" in log.replace("READ LOCK is held", "lock is held") and "UNLOCK TABLES" in log
        assert list(store.glob("data/tar/*"))
    else:
        assert "hot physical backup" in log
        assert list(store.glob("data/mariabackup/*"))
    assert env["MARIADB_TEST_PASSWORD"] not in log
    restored = tmp_path / "datadir"
    done = subprocess.run([AGENT, "--action", "restore", "--mode", "mysql", "--container", str(store),
                           "--storage", "local", "--backup-name", "mysqlbackup", "--restore-abs-path", str(restored),
                           "--log-file", str(tmp_path / "restore.log"), *strategy], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    check_restored(mariadb_server, db, restored)


def _agent_fails(tmp_path: Path, conf: Path | None, *extra: str) -> subprocess.CompletedProcess[str]:
    store = tmp_path / "store"
    argv = [AGENT, "--mode", "mysql", "--path-to-backup", str(tmp_path), "--container", str(store),
            "--storage", "local", "--backup-name", "b", "--log-file", str(tmp_path / "agent.log"), *extra]
    if conf is not None:
        argv += ["--mysql-conf", str(conf)]
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not any(p.is_file() for p in store.rglob("*")) if store.exists() else True
    return done


@pytest.mark.parametrize("engine", ["tar", "mariabackup"])
def test_bad_config_credentials_or_server_fail_in_one_line(tmp_path: Path, mariadb_server: Service,
                                                           mysql_conf: Path, engine: str) -> None:
    env = mariadb_server.env
    e = ("--engine", engine)
    assert _agent_fails(tmp_path, None, *e).returncode == 2
    assert "needs --mysql-conf" in _agent_fails(tmp_path, None, *e).stderr
    assert _agent_fails(tmp_path, tmp_path / "nope.cnf", *e).returncode == 2
    bad = tmp_path / "bad.cnf"
    bad.write_text("host = x\n")
    assert "not an INI file" in _agent_fails(tmp_path, bad, *e).stderr
    bad.write_text("[other]\nhost = x\n")
    assert "no [default]" in _agent_fails(tmp_path, bad, *e).stderr
    bad.write_text(mysql_conf.read_text().replace(env["MARIADB_TEST_PASSWORD"], "wrong-pw"))
    done = _agent_fails(tmp_path, bad, *e)
    assert done.returncode == 5 and "wrong user or password" in done.stderr and "wrong-pw" not in done.stderr
    bad.write_text(mysql_conf.read_text().replace(f"port = {env['MARIADB_TEST_PORT']}", "port = 1"))
    done = _agent_fails(tmp_path, bad, *e)
    assert done.returncode == 5 and "cannot reach the MySQL server" in done.stderr


@pytest.mark.parametrize("engine", ["tar", "mariabackup"])
def test_a_lock_that_cannot_be_taken_fails_cleanly(tmp_path: Path, mariadb_server: Service,
                                                   db: str, mysql_conf: Path, engine: str) -> None:
    env = mariadb_server.env
    holder = connect(env, db=db)
    with holder.cursor() as cur:
        cur.execute("LOCK TABLES t WRITE")
    try:
        with pytest.raises(ModeError, match="timed out"):
            backup({"mysql_conf": str(mysql_conf), "container": str(tmp_path / "store"), "backup_name": "b",
                    "path_to_backup": env["MARIADB_TEST_DATADIR"], "timeout": 1, "engine": engine})
    finally:
        holder.close()
    assert not (tmp_path / "store").exists() or not any(p.is_file() for p in (tmp_path / "store").rglob("*"))
    with connect(env, db=db).cursor() as cur:  # nothing is left locked
        cur.execute("INSERT INTO t (batch, payload) VALUES (-1, 'after')")


def test_password_is_never_on_a_command_line(tmp_path: Path, mysql_conf: Path) -> None:
    from freezer_mode_mysql.config import client_defaults_file, read_settings

    settings = read_settings(str(mysql_conf))
    assert settings.password not in repr(settings)
    with client_defaults_file(settings, "/data") as cnf:
        assert oct(os.stat(cnf).st_mode & 0o777) == "0o600"
        text = cnf.read_text()
    assert not cnf.exists()
    assert f'password="{settings.password}"' in text
