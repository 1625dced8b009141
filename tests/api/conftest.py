"""API tests run against real ``freezer-api`` processes, one per metadata database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.server import ApiServer, start_api, stop_api
from tests.services.mariadb import mariadb_server  # noqa: F401
from tests.services.postgres import postgres_server  # noqa: F401

BACKENDS = ["sqlite", "postgresql", "mariadb"]
DATABASE = "freezer_api_tests"


def _connection(request: pytest.FixtureRequest, backend: str, directory: Path) -> str:
    """A fresh, empty database on the backend's real server."""
    if backend == "sqlite":
        return f"sqlite:///{directory / 'freezer.sqlite'}"
    if backend == "postgresql":
        import psycopg

        env = request.getfixturevalue("postgres_server").env
        server = f"host={env['POSTGRES_TEST_HOST']} port={env['POSTGRES_TEST_PORT']} user={env['POSTGRES_TEST_USER']}"
        with psycopg.connect(f"{server} dbname=postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
            conn.execute(f"CREATE DATABASE {DATABASE}")
        return (f"postgresql+psycopg://{env['POSTGRES_TEST_USER']}@{env['POSTGRES_TEST_HOST']}:"
                f"{env['POSTGRES_TEST_PORT']}/{DATABASE}")
    if backend == "mariadb":
        import pymysql

        env = request.getfixturevalue("mariadb_server").env
        auth = {"host": env["MARIADB_TEST_HOST"], "port": int(env["MARIADB_TEST_PORT"]),
                "user": env["MARIADB_TEST_USER"], "password": env["MARIADB_TEST_PASSWORD"]}
        with pymysql.connect(**auth) as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
            cursor.execute(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4")
        return (f"mysql+pymysql://{auth['user']}:{auth['password']}@{auth['host']}:{auth['port']}/{DATABASE}"
                "?charset=utf8mb4")
    raise ValueError(backend)


@pytest.fixture(scope="session", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A running freezer-api on each supported database (SQLite file, PostgreSQL, MariaDB)."""
    backend = request.param
    directory = tmp_path_factory.mktemp(f"freezer-api-{backend}")
    server = start_api(directory, _connection(request, backend, directory), backend)
    try:
        yield server
    finally:
        stop_api(server)
