"""The session's MariaDB server (with mariadb-backup) on 127.0.0.1.

Use the fixture by importing it into a conftest or test module::

    from tests.services.mariadb import mariadb_server  # noqa: F401

``mariadb_server.env`` has ``MARIADB_TEST_HOST``, ``_PORT``, ``_USER``
(root), ``_PASSWORD``, ``_SOCKET``, ``_DEFAULTS_FILE`` (the server's option
file, with a ``[client]`` section: ``--defaults-file`` must be the first
option of any tool given it) and ``_DATADIR``.  Tests share the server: each
uses a database of its own and drops it when done.

:func:`second_server` starts another server on a copy of a datadir (a
restored backup) and stops it afterwards, to prove that a restore starts.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.services import Service, free_port, start_service


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    directory = tmp_path_factory.mktemp("mariadb")
    env = {"MARIADB_DIR": str(directory), "MARIADB_PORT": str(free_port())}
    with start_service("mariadb", directory, env) as service:
        yield service


@contextmanager
def second_server(service: Service, datadir: Path, timeout: float = 60) -> Iterator[int]:
    """Run a second mariadbd on ``datadir`` (same settings, no binlog, another port); yield its port."""
    port = free_port()
    run = datadir.parent / f"{datadir.name}-server"
    run.mkdir(exist_ok=True)
    text = Path(service.env["MARIADB_TEST_DEFAULTS_FILE"]).read_text()
    text = text.replace(service.env["MARIADB_TEST_DATADIR"], str(datadir))
    text = re.sub(r"(?m)^port=\d+$", f"port={port}", text)
    text = re.sub(r"(?m)^socket=.*$", f"socket={run}/mysqld.sock", text)
    text = re.sub(r"(?m)^pid-file=.*$", f"pid-file={run}/mysqld.pid", text)
    text = re.sub(r"(?m)^log-error=.*$", f"log-error={run}/mysqld.err", text)
    text = re.sub(r"(?m)^log-bin=.*$", "", text)
    cnf = run / "my.cnf"
    cnf.write_text(text)
    proc = subprocess.Popen(["mariadbd", f"--defaults-file={cnf}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            ok = subprocess.run(["mariadb-admin", f"--defaults-file={cnf}", "--protocol=tcp", "ping"],
                                capture_output=True).returncode == 0
            if ok:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (run / "mysqld.err").read_text() if (run / "mysqld.err").exists() else ""
                pytest.fail(f"the second MariaDB server did not start on {datadir}:\n{log[-3000:]}",
                            pytrace=False)
            time.sleep(0.2)
        yield port
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
