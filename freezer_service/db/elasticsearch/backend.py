"""The Elasticsearch/OpenSearch metadata backend: one index per document type.

Writes are optimistic: a read-modify-write reads the document with its
``_seq_no``/``_primary_term`` and writes it back with ``if_seq_no`` and
``if_primary_term``, so when two API processes (or two schedulers through
them) change one job at once, exactly one write lands and the other re-reads
and retries; a job can therefore be started only once.  Every write refreshes
the shard (``refresh=true``, or ``wait_for`` by option), so a created document
is listed by the very next request, as on SQL.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from freezer_core.errors import ConfigError
from freezer_service.db.base import Backend, DocumentExists, Read, Stored
from freezer_service.db.elasticsearch import documents as d
from freezer_service.db.elasticsearch.client import RestClient, SearchError, path
from freezer_service.db.elasticsearch.options import OPTS, from_conf
from freezer_service.db.search import Search

BATCH = 500
#: The cluster's default max_result_window: deeper pages are read with search_after.
WINDOW = 10_000
URL_SCHEMES = ("elasticsearch", "opensearch", "elasticsearch+https", "opensearch+https")


def settings_from_url(url: str) -> dict[str, Any]:
    """``elasticsearch://[user:pass@]host:port[,host:port]/prefix[?client=NAME]`` (``+https`` for TLS) as options."""
    parts = urlsplit(url)
    if parts.scheme not in URL_SCHEMES:
        return {}
    tls = parts.scheme.endswith("+https")
    netloc = parts.netloc.rpartition("@")
    out: dict[str, Any] = {"hosts": [f"{'https' if tls else 'http'}://{h}" for h in netloc[2].split(",") if h],
                           "use_ssl": tls}
    if netloc[0]:
        out["http_auth"] = unquote(netloc[0])
    if parts.path.strip("/"):
        out["index"] = parts.path.strip("/")
    for key, value in parse_qsl(parts.query):
        if key != "client":
            raise ConfigError(f"unknown parameter {key!r} in search cluster URL (only client=...)")
        out["client"] = value
    return out


@dataclass(frozen=True)
class _Current(Read):
    """A document as read for a write: its concurrency token and insertion position."""

    seq_no: int
    primary_term: int
    seq: int

    @classmethod
    def of(cls, kind: str, hit: dict[str, Any]) -> _Current:
        return cls(ElasticsearchBackend._stored(kind, hit), int(hit["_seq_no"]), int(hit["_primary_term"]),
                   int(hit["_source"]["seq"]))


class ElasticsearchBackend(Backend[_Current]):
    """Documents in ``<index>-backups``, ``<index>-clients``, ... of an Elasticsearch or OpenSearch cluster."""

    name = "elasticsearch"
    #: More rounds than on SQL: contenders do not queue on a row lock but retry after a short random pause.
    retries = 200

    def __init__(self, connection: str | None = None, conf: Any = None, **options: Any) -> None:
        settings: dict[str, Any] = {opt.dest: opt.default for opt in OPTS}
        if conf is not None:
            settings.update(from_conf(conf))
        settings.update(settings_from_url(connection or ""))
        settings.update({k: v for k, v in options.items() if k in settings})
        self.indices = d.index_names(settings["index"])
        self.prefix = settings["index"]
        self.replicas = int(settings["number_of_replicas"])
        self.refresh = settings["refresh"]
        self.client = RestClient(list(settings["hosts"]), client=settings["client"],
                                 http_auth=settings["http_auth"], use_ssl=settings["use_ssl"],
                                 verify_certs=settings["verify_certs"], ca_certs=settings["ca_certs"],
                                 timeout=settings["timeout"], retries=settings["retries"])
        self._seq_lock = threading.Lock()
        self._last_seq = 0

    # -- plumbing ---------------------------------------------------------------------------------

    def upgrade(self) -> None:
        """Create the index template and the indices; add new fields to existing indices."""
        self.client.request("PUT", path("_index_template", f"{self.prefix}-documents"),
                            body=d.template(self.prefix, self.replicas))
        for index in self.indices.values():
            try:
                self.client.request("PUT", path(index))
            except SearchError as exc:
                if exc.kind != "resource_already_exists_exception":
                    raise
            self.client.request("PUT", path(index, "_mapping"), body=d.MAPPING)

    def close(self) -> None:
        self.client.close()

    def _next_seq(self) -> int:
        """Nanoseconds since the epoch, strictly increasing within this process: insertion order."""
        with self._seq_lock:
            self._last_seq = max(time.time_ns(), self._last_seq + 1)
            return self._last_seq

    @staticmethod
    def _stored(kind: str, hit: dict[str, Any]) -> Stored:
        src = hit["_source"]
        return Stored(kind=kind, project_id=src["project_id"], doc_id=src["doc_id"], doc=src["doc"],
                      version=int(src["version"]), is_central=bool(src.get("is_central")))

    def _search(self, kind: str, query: dict[str, Any], *, size: int, start: int = 0,
                after: list[Any] | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"query": query, "sort": d.SORT, "size": size, "seq_no_primary_term": True}
        if after is not None:
            body["search_after"] = after
        elif start:
            body["from"] = start
        answer = self.client.request("POST", path(self.indices[kind], "_search"), body=body)
        return list(answer.get("hits", {}).get("hits", []))

    def _scan(self, kind: str, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every hit of ``query`` in order, page by page with ``search_after``."""
        after: list[Any] | None = None
        while True:
            hits = self._search(kind, query, size=BATCH, after=after)
            yield from hits
            if len(hits) < BATCH:
                return
            after = hits[-1]["sort"]

    @staticmethod
    def _bool(*filters: dict[str, Any], should: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        query: dict[str, Any] = {"filter": list(filters)}
        if should:
            query["filter"].append({"bool": {"should": should, "minimum_should_match": 1}})
        return {"bool": query}

    # -- reads ------------------------------------------------------------------------------------

    def _fetch(self, kind: str, project_id: str, doc_id: str) -> _Current | None:
        """The document with its ``_seq_no`` and ``_primary_term`` (a realtime GET: no refresh needed)."""
        try:
            hit = self.client.request("GET", path(self.indices[kind], "_doc", d.document_id(project_id, doc_id)))
        except SearchError as exc:
            if exc.status == 404:
                return None
            raise
        if not hit.get("found"):
            return None
        return _Current.of(kind, hit)

    def _current(self, kind: str, project_id: str | None, doc_id: str) -> _Current | None:
        if project_id is not None:
            return self._fetch(kind, project_id, doc_id)
        hits = self._search(kind, self._bool({"term": {"doc_id": doc_id}}), size=1)
        if not hits:
            return None
        return _Current.of(kind, hits[0])

    def get(self, kind: str, project_id: str | None, doc_id: str) -> Stored | None:
        found = self._current(kind, project_id, doc_id)
        return found.stored if found is not None else None

    def find_central(self, kind: str, doc_id: str) -> Stored | None:
        hits = self._search(kind, self._bool({"term": {"doc_id": doc_id}}, {"term": {"is_central": True}}),
                            size=1)
        return self._stored(kind, hits[0]) if hits else None

    def list(self, kind: str, project_id: str | None, search: Search | None = None, *,
             limit: int = 10, offset: int = 0, include_central: bool = False) -> list[Stored]:
        if limit <= 0:
            return []
        scope: list[dict[str, Any]] = []
        if project_id is not None:
            scope = [{"term": {"project_id": project_id}}]
            if include_central:
                scope.append({"term": {"is_central": True}})
        query = self._bool(*d.filters(search), should=scope)
        if not search and offset + limit <= WINDOW:
            return [self._stored(kind, h) for h in self._search(kind, query, size=limit, start=offset)]
        out: list[Stored] = []
        skipped = 0
        for hit in self._scan(kind, query):
            stored = self._stored(kind, hit)
            if search and not search.matches(stored.doc):
                continue
            if skipped < offset:
                skipped += 1
                continue
            out.append(stored)
            if len(out) >= limit:
                break
        return out

    # -- writes -----------------------------------------------------------------------------------

    def create(self, kind: str, project_id: str, doc_id: str, doc: dict[str, Any], *,
               is_central: bool = False) -> Stored:
        body = d.source(kind, project_id, doc_id, doc, version=1, seq=self._next_seq(), is_central=is_central)
        try:
            self.client.request("PUT", path(self.indices[kind], "_create", d.document_id(project_id, doc_id)),
                                params={"refresh": self.refresh}, body=body)
        except SearchError as exc:
            if exc.status == 409:
                raise DocumentExists(f"{kind[:-1]} {doc_id} already exists in project {project_id}") from None
            raise
        return Stored(kind, project_id, doc_id, doc, 1, is_central)

    def _swap(self, current: _Current, doc: dict[str, Any], is_central: bool) -> Stored | None:
        """Replace the document if nobody wrote since it was read (``if_seq_no``); None otherwise."""
        old = current.stored
        version = old.version + 1
        body = d.source(old.kind, old.project_id, old.doc_id, doc, version=version, seq=current.seq,
                        is_central=is_central)
        try:
            self.client.request("PUT", path(self.indices[old.kind], "_doc", d.document_id(old.project_id, old.doc_id)),
                                params={"if_seq_no": current.seq_no, "if_primary_term": current.primary_term,
                                        "refresh": self.refresh}, body=body)
        except SearchError as exc:
            if exc.status in (404, 409):
                return None
            raise
        return Stored(old.kind, old.project_id, old.doc_id, doc, version, is_central)

    def _lost_race(self, attempt: int) -> None:
        """A short random pause, so that contenders stop colliding in lockstep."""
        time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 25)))

    def delete(self, kind: str, project_id: str | None, doc_id: str) -> bool:
        if project_id is None:
            owners = [h["_source"]["project_id"] for h in self._scan(kind, self._bool({"term": {"doc_id": doc_id}}))]
        else:
            owners = [project_id]
        deleted = False
        for owner in owners:
            try:
                self.client.request("DELETE", path(self.indices[kind], "_doc", d.document_id(owner, doc_id)),
                                    params={"refresh": self.refresh})
                deleted = True
            except SearchError as exc:
                if exc.status != 404:
                    raise
        return deleted
