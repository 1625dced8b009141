"""A real PostgreSQL server for the session (``postgres_start.sh`` / ``postgres_stop.sh``)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import Service, free_port, start_service


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Service]:
    """PostgreSQL on 127.0.0.1; ``env`` has POSTGRES_TEST_HOST/PORT/USER (trust authentication).

    The cluster lives directly under the system temp dir: pytest's own temp dirs
    are private to root, and the server runs as the ``postgres`` user.
    """
    directory = Path(tempfile.mkdtemp(prefix="freezer-postgres-"))
    env = {"POSTGRES_DIR": str(directory), "POSTGRES_PORT": str(free_port())}
    try:
        with start_service("postgres", directory, env) as service:
            yield service
    finally:
        shutil.rmtree(directory, ignore_errors=True)
