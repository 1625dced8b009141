"""API tests run against real ``freezer-api`` processes, one per metadata database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.server import ApiServer, start_api, stop_api
from tests.services import Service
from tests.services.keystone import register_backup_endpoint
from tests.services.mariadb import mariadb_server  # noqa: F401
from tests.services.opensearch import opensearch_server  # noqa: F401
from tests.services.postgres import postgres_server  # noqa: F401

BACKENDS = ["sqlite", "postgresql", "mariadb", "elasticsearch"]
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
    if backend == "elasticsearch":
        return f"sqlite:///{directory / 'unused.sqlite'}"  # never opened: the documents go to OpenSearch
    raise ValueError(backend)


def _extra_conf(request: pytest.FixtureRequest, backend: str) -> str:
    """The backend's own configuration sections (the SQL backends need none beyond ``[database]``)."""
    if backend != "elasticsearch":
        return ""
    url = request.getfixturevalue("opensearch_server").env["OPENSEARCH_URL"]
    return f"[storage]\nbackend = elasticsearch\n[elasticsearch]\nhosts = {url}\nindex = freezer-api-tests\n"


@pytest.fixture(scope="session", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A running freezer-api on each supported database (SQLite file, PostgreSQL, MariaDB)."""
    backend = request.param
    directory = tmp_path_factory.mktemp(f"freezer-api-{backend}")
    server = start_api(directory, _connection(request, backend, directory), backend, _extra_conf(request, backend))
    try:
        yield server
    finally:
        stop_api(server)


@pytest.fixture(scope="session")
def keystone_api(keystone_server: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """freezer-api (SQLite) with ``auth_strategy = keystone``: keystonemiddleware validates tokens with
    the real Keystone (and caches a valid one for ``token_cache_time``, 300 s by default, as in any
    cloud), and the catalog's ``backup`` service points at it."""
    directory = tmp_path_factory.mktemp("freezer-api-keystone")
    url = keystone_server.env["OS_AUTH_URL"]
    extra = ("[DEFAULT]\nauth_strategy = keystone\n"
             f"[keystone_authtoken]\nwww_authenticate_uri = {url}\nauth_url = {url}\nauth_type = password\n"
             f"username = freezer\npassword = {keystone_server.env['KEYSTONE_PASSWORD']}\nproject_name = service\n"
             "user_domain_id = default\nproject_domain_id = default\n")
    server = start_api(directory, f"sqlite:///{directory / 'freezer.sqlite'}", "sqlite", extra)
    try:
        register_backup_endpoint(keystone_server, server.url)
        yield server
    finally:
        stop_api(server)
