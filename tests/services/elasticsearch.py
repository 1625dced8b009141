"""A real single-node Elasticsearch 8.19 for the session (``elasticsearch_start.sh`` / ``elasticsearch_stop.sh``).

The node runs Elasticsearch's own jars (from Maven Central) in a small Java 17
launcher, ``elasticsearch-launcher/``, built once into ~/.cache/freezer-services.
``ELASTICSEARCH_VERSION=9.5.3`` in the environment runs Elasticsearch 9 instead
(on a Java 21+ JDK found under /usr/lib/jvm).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import Service, free_port, start_service

#: Memory-backed, where the machine has it: a search node fsyncs its cluster state on every index creation,
#: which costs about 0.8 s on a busy virtual disk and 0.1 s in memory (the tests create many small indices).
SHM = Path("/dev/shm")


def node_directory(prefix: str) -> Path:
    """A fresh directory for a search node's data, in memory when /dev/shm is writable."""
    fast = SHM.is_dir() and os.access(SHM, os.W_OK)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=SHM if fast else None))


@pytest.fixture(scope="session")
def elasticsearch_server() -> Iterator[Service]:
    """Elasticsearch on 127.0.0.1; ``env`` has ELASTICSEARCH_URL and _VERSION (plain HTTP, no security)."""
    directory = node_directory("freezer-elasticsearch-")
    env = {"ELASTICSEARCH_DIR": str(directory), "ELASTICSEARCH_HTTP_PORT": str(free_port()),
           "ELASTICSEARCH_TRANSPORT_PORT": str(free_port())}
    try:
        with start_service("elasticsearch", directory, env, timeout=1200) as service:
            yield service
    finally:
        shutil.rmtree(directory, ignore_errors=True)
