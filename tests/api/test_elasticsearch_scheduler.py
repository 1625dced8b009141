"""The scheduler's two-scheduler test, run unchanged on a freezer-api whose documents live in OpenSearch
and in Elasticsearch (the ``node`` fixture: each real search node in turn).

Two ``freezer-scheduler`` processes share one client id and twenty jobs; each
job must run exactly once.  They claim runs with conditional updates
(``If-Match`` on the job's ``_version``), which this backend implements with
``if_seq_no``/``if_primary_term``.  The test lives in
``tests/scheduler/test_api_e2e.py``; only its ``api`` fixture differs here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.api.conftest import SearchNode
from tests.api.server import ApiServer, start_api, stop_api
from tests.scheduler.conftest import schedulers  # noqa: F401
from tests.scheduler.test_api_e2e import test_two_schedulers_one_client_id_twenty_jobs  # noqa: F401


@pytest.fixture(scope="module")
def api(node: SearchNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    directory = tmp_path_factory.mktemp(f"scheduler-api-{node.name}")
    conf = node.conf(f"freezer-scheduler-{uuid.uuid4().hex[:8]}")
    server = start_api(directory, f"sqlite:///{directory / 'unused.sqlite'}", "elasticsearch", conf)
    try:
        yield server
    finally:
        stop_api(server)
