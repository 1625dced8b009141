"""API tests run against real ``freezer-api`` processes, one per metadata database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.api.server import ApiServer, start_api, stop_api
from tests.services import Service
from tests.services.elasticsearch import elasticsearch_server  # noqa: F401
from tests.services.keystone import register_backup_endpoint
from tests.services.mariadb import mariadb_server  # noqa: F401
from tests.services.opensearch import opensearch_server  # noqa: F401
from tests.services.postgres import postgres_server  # noqa: F401

#: The ``elasticsearch`` metadata backend runs on both kinds of search node, each through its own client.
SEARCH_NODES = ["opensearch", "elasticsearch"]
BACKENDS = ["sqlite", "postgresql", "mariadb", *SEARCH_NODES]
DATABASE = "freezer_api_tests"


@dataclass(frozen=True)
class SearchNode:
    """A real search node of the session and the Python client library that talks to it."""

    name: str
    url: str

    @property
    def client(self) -> str:
        """``[elasticsearch] client``: opensearch-py for OpenSearch, the elasticsearch client for Elasticsearch."""
        return self.name

    def conf(self, index: str) -> str:
        """freezer-api configuration sections that put the documents on this node under ``index``."""
        return (f"[storage]\nbackend = elasticsearch\n[elasticsearch]\nhosts = {self.url}\nclient = {self.client}\n"
                f"index = {index}\n")


def search_node(request: pytest.FixtureRequest, name: str) -> SearchNode:
    """The session's node ``name`` (``opensearch`` or ``elasticsearch``), started on first use."""
    env = request.getfixturevalue(f"{name}_server").env
    return SearchNode(name, env[f"{name.upper()}_URL"])


@pytest.fixture(scope="session", params=SEARCH_NODES)
def node(request: pytest.FixtureRequest) -> SearchNode:
    """Each real search node in turn (OpenSearch 2.19, Elasticsearch 8.19)."""
    return search_node(request, request.param)


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
    if backend in SEARCH_NODES:
        return f"sqlite:///{directory / 'unused.sqlite'}"  # never opened: the documents go to the search node
    raise ValueError(backend)


def _extra_conf(request: pytest.FixtureRequest, backend: str) -> str:
    """The backend's own configuration sections (the SQL backends need none beyond ``[database]``)."""
    if backend not in SEARCH_NODES:
        return ""
    return search_node(request, backend).conf("freezer-api-tests")


@pytest.fixture(scope="session", params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A running freezer-api on each supported database (SQLite file, PostgreSQL, MariaDB, OpenSearch,
    Elasticsearch)."""
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
