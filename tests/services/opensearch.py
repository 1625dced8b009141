"""A real single-node OpenSearch 2.19 for the session (``opensearch_start.sh`` / ``opensearch_stop.sh``).

The node runs OpenSearch's own jars (from Maven Central) in a small Java 17
launcher, ``opensearch-launcher/``, built once into ~/.cache/freezer-services.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.services import Service, free_port, start_service
from tests.services.elasticsearch import node_directory


@pytest.fixture(scope="session")
def opensearch_server() -> Iterator[Service]:
    """OpenSearch on 127.0.0.1; ``env`` has OPENSEARCH_URL (plain HTTP, no security plugin)."""
    directory = node_directory("freezer-opensearch-")
    env = {"OPENSEARCH_DIR": str(directory), "OPENSEARCH_HTTP_PORT": str(free_port()),
           "OPENSEARCH_TRANSPORT_PORT": str(free_port())}
    try:
        with start_service("opensearch", directory, env, timeout=1200) as service:
            yield service
    finally:
        shutil.rmtree(directory, ignore_errors=True)
