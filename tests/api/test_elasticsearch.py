"""The Elasticsearch/OpenSearch backend on real nodes: layout, search parity, concurrency, migration.

Every test runs on OpenSearch 2.19 (through opensearch-py) and on
Elasticsearch 8.19 (through the elasticsearch client), the ``node`` fixture.
The API suites (conformance, isolation, concurrency) also run on this backend
through the ``api`` fixture; these tests cover what is particular to it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from freezer_service.db.base import KINDS, Backend, DocumentExists, StaleVersion
from freezer_service.db.elasticsearch import backend as es_backend
from freezer_service.db.elasticsearch.backend import ElasticsearchBackend
from freezer_service.db.search import parse
from freezer_service.db.sqlalchemy.backend import SQLAlchemyBackend
from tests.api.conftest import SearchNode
from tests.api.server import ApiServer, member_token, start_api, stop_api


def _prefix() -> str:
    return f"freezer-unit-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def es(node: SearchNode) -> Iterator[ElasticsearchBackend]:
    backend = ElasticsearchBackend(hosts=[node.url], client=node.client, index=_prefix())
    backend.upgrade()
    try:
        yield backend
    finally:
        backend.close()


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[SQLAlchemyBackend]:
    backend = SQLAlchemyBackend(f"sqlite:///{tmp_path / 'parity.sqlite'}")
    backend.upgrade()
    try:
        yield backend
    finally:
        backend.close()


def test_one_index_per_kind_from_a_template(node: SearchNode, es: ElasticsearchBackend) -> None:
    url = node.url
    template = requests.get(f"{url}/_index_template/{es.prefix}-documents", timeout=10).json()
    patterns = template["index_templates"][0]["index_template"]["index_patterns"]
    assert sorted(patterns) == sorted(f"{es.prefix}-{kind}" for kind in KINDS)
    for kind in KINDS:
        index = requests.get(f"{url}/{es.prefix}-{kind}", timeout=10).json()[f"{es.prefix}-{kind}"]
        assert index["mappings"]["properties"]["doc"] == {"type": "object", "enabled": False}
        assert index["settings"]["index"]["number_of_replicas"] == "0"
    es.upgrade()  # idempotent: a second start finds everything in place


def test_created_documents_are_listed_at_once_and_ids_are_per_project(es: ElasticsearchBackend) -> None:
    for i in range(5):
        es.create("backups", "p1", f"b{i}", {"backup_name": f"b{i}", "n": i})
        assert [s.doc_id for s in es.list("backups", "p1", limit=100)] == [f"b{j}" for j in range(i + 1)]
    with pytest.raises(DocumentExists):
        es.create("backups", "p1", "b0", {})
    es.create("backups", "p2", "b0", {"other": True})
    assert es.get("backups", "p2", "b0").doc == {"other": True}  # type: ignore[union-attr]
    assert es.delete("backups", "p1", "b0") and not es.delete("backups", "p1", "b0")
    assert [s.doc_id for s in es.list("backups", "p1", limit=100)] == ["b1", "b2", "b3", "b4"]


def test_odd_ids_round_trip(es: ElasticsearchBackend) -> None:
    odd = ["a/b", "50% off", "space id", "é", "x" * 300]
    for doc_id in odd:
        es.create("clients", "weird/project", doc_id, {"client_id": doc_id})
    assert [s.doc_id for s in es.list("clients", "weird/project", limit=100)] == odd
    assert all(es.get("clients", "weird/project", d) is not None for d in odd)


DOCS: list[dict[str, Any]] = [
    {"client_id": "c1", "description": "d", "job_schedule": {"status": "completed", "event": "stop"}, "n": 1},
    {"client_id": "c2", "description": "e", "job_schedule": {"status": "scheduled"}, "n": 1.0, "flag": True},
    {"client_id": "c1", "description": "d", "status": "top", "job_schedule": {"status": "completed"}},
    {"client_id": "c1", "description": "Nightly /etc backup", "job_actions": [{"freezer_action": {"mode": "fs"}}]},
    {"client_id": "c3", "time_stamp": 1700000000, "meta": {"n": "1"}, "long": "y" * 2000},
    {"client_id": "c3", "time_stamp": 1700000500, "description": None},
]
SEARCHES: list[dict[str, Any]] = [
    {"match": [{"client_id": "c1"}]},
    {"match": [{"status": "completed"}]},
    {"match_not": [{"status": "completed"}], "match": [{"client_id": "c1"}]},
    {"match": [{"n": 1}]}, {"match": [{"n": "1"}]}, {"match": [{"flag": 1}]},
    {"match": [{"mode": "fs"}]}, {"match": [{"_all": "nightly"}]},
    {"match": [{"_all": json.dumps([{"description": "d"}])}]},
    {"match": [{"description": None}]}, {"match": [{"long": "y" * 2000}]},
    {"match": [{"job_schedule": {"status": "completed"}}]},
    {"time_after": 1700000100}, {"time_before": 1700000100},
]


@pytest.mark.parametrize("body", SEARCHES, ids=[json.dumps(s)[:40] for s in SEARCHES])
def test_search_equals_sql(es: ElasticsearchBackend, sqlite: SQLAlchemyBackend, body: dict[str, Any]) -> None:
    for backend in (es, sqlite):
        for i, doc in enumerate(DOCS):
            backend.create("jobs", "p", f"j{i}", doc)
    search = parse(body)
    for limit, offset in ((100, 0), (1, 0), (1, 1), (2, 1), (100, 5)):
        wanted = [s.doc_id for s in sqlite.list("jobs", "p", search, limit=limit, offset=offset)]
        assert [s.doc_id for s in es.list("jobs", "p", search, limit=limit, offset=offset)] == wanted


def test_deep_pages_read_with_search_after(es: ElasticsearchBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(es_backend, "WINDOW", 4)
    monkeypatch.setattr(es_backend, "BATCH", 3)
    for i in range(11):
        es.create("sessions", "p", f"s{i:02d}", {"i": i, "even": i % 2 == 0})
    assert [s.doc_id for s in es.list("sessions", "p", limit=4, offset=6)] == ["s06", "s07", "s08", "s09"]
    even = parse({"match": [{"even": True}]})
    assert [s.doc_id for s in es.list("sessions", "p", even, limit=10, offset=2)] == ["s04", "s06", "s08", "s10"]


def test_a_stale_write_is_refused_and_update_retries(es: ElasticsearchBackend) -> None:
    es.create("jobs", "p", "j", {"count": 0})
    current = es._fetch("jobs", "p", "j")
    assert current is not None
    es.update("jobs", "p", "j", lambda doc: {**doc, "count": doc["count"] + 1})
    assert es._swap(current, {"count": 100}, False) is None  # read before the update: refused
    assert es.get("jobs", "p", "j").doc == {"count": 1}  # type: ignore[union-attr]
    with pytest.raises(StaleVersion):  # If-Match with the version read before the update
        es.update("jobs", "p", "j", lambda doc: {**doc, "count": 7}, expected_version=1)
    assert es.update("jobs", "p", "j", lambda doc: {**doc, "count": 2}, expected_version=2).version == 3  # type: ignore[union-attr]


def test_two_schedulers_cannot_both_start_a_job(node: SearchNode, es: ElasticsearchBackend) -> None:
    """Two backend instances (two API processes) race to move one job from scheduled to running."""
    other = ElasticsearchBackend(hosts=[node.url], client=node.client, index=es.prefix)
    es.create("jobs", "p", "j", {"job_schedule": {"status": "scheduled"}})
    winners: list[str] = []
    barrier = threading.Barrier(20)

    def start(name: str, backend: Backend) -> None:
        def mutate(doc: dict[str, Any]) -> dict[str, Any]:
            if doc["job_schedule"]["status"] != "scheduled":
                raise RuntimeError("already started")
            return {**doc, "job_schedule": {"status": "running", "by": name}}

        barrier.wait()
        try:
            backend.update("jobs", "p", "j", mutate)
            winners.append(name)
        except RuntimeError:
            pass

    with ThreadPoolExecutor(20) as pool:
        list(pool.map(lambda i: start(f"scheduler{i}", es if i % 2 else other), range(20)))
    other.close()
    assert len(winners) == 1
    assert es.get("jobs", "p", "j").doc["job_schedule"] == {"status": "running", "by": winners[0]}  # type: ignore[union-attr]


def test_two_api_processes_start_a_job_once(node: SearchNode, tmp_path: Path) -> None:
    """Schedulers talking to two freezer-api processes on one cluster: one start event wins."""
    conf = node.conf(_prefix())
    servers = [start_api(tmp_path / f"api{i}", f"sqlite:///{tmp_path / 'unused.sqlite'}", "elasticsearch", conf)
               for i in range(2)]
    try:
        first: ApiServer = servers[0]
        project = first.new_project()
        tok = member_token(project)
        assert first.call("POST", f"/v2/{project}/clients", tok, {"client_id": "n1"}).status_code == 201
        job = first.call("POST", f"/v2/{project}/jobs", tok, {"client_id": "n1", "job_actions": [
            {"freezer_action": {"action": "info"}}]}).json()["job_id"]
        assert servers[1].call("GET", f"/v2/{project}/jobs/{job}", tok).status_code == 200
        barrier = threading.Barrier(16)

        def event(i: int) -> str:
            barrier.wait()
            r = servers[i % 2].call("POST", f"/v2/{project}/jobs/{job}/event", tok, {"start": None})
            assert r.status_code == 202, r.text
            return str(r.json()["result"])

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(event, range(16)))
        assert sorted(results) == ["start already requested"] * 15 + ["success"]
    finally:
        for server in servers:
            stop_api(server)


def _dump(backend: Backend) -> list[tuple[str, str, str, bool, str]]:
    return [(kind, s.project_id, s.doc_id, s.is_central, json.dumps(s.doc, sort_keys=True))
            for kind in KINDS for s in backend.list(kind, None, limit=10_000)]


def test_db_migrate_sqlite_to_elasticsearch_and_back(node: SearchNode, tmp_path: Path) -> None:
    source = SQLAlchemyBackend(f"sqlite:///{tmp_path / 'a.sqlite'}")
    source.upgrade()
    for i, kind in enumerate(KINDS * 3):
        source.create(kind, f"p{i % 2}", f"{kind}-{i}", {"i": i, "nested": {"k": [1, {"x": kind}]}})
    source.create("clients", "p0", "central", {"client_id": "central"}, is_central=True)
    expected = _dump(source)
    source.close()
    es_url = f"{node.url.replace('http://', 'elasticsearch://')}/{_prefix()}?client={node.client}"

    def migrate(src: str, dst: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from freezer_service.cmd.api import main; main()",
                               "db-migrate", "--from", src, "--to", dst], capture_output=True, text=True, timeout=300)

    done = migrate(f"sqlite:///{tmp_path / 'a.sqlite'}", es_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == f"total={len(expected)}"
    es = ElasticsearchBackend(es_url)
    assert _dump(es) == expected
    assert es.find_central("clients", "central") is not None
    es.close()
    again = migrate(f"sqlite:///{tmp_path / 'a.sqlite'}", es_url)
    assert again.returncode != 0 and "already exists" in again.stderr
    back = migrate(es_url, f"sqlite:///{tmp_path / 'b.sqlite'}")
    assert back.returncode == 0, back.stderr
    copy = SQLAlchemyBackend(f"sqlite:///{tmp_path / 'b.sqlite'}")
    assert _dump(copy) == expected
    copy.close()
