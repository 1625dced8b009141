"""How a Freezer document is laid out in an index: mappings, ids and search terms.

The API's searches look a key up *anywhere* in a document and compare by
equality (see :mod:`freezer_service.db.search`).  Mapping documents
dynamically would break on the first two documents that give one key two
types (``backup_metadata.n`` a number here, a string there), so the document
itself is stored but not indexed (``enabled: false``).  Beside it the backend
indexes ``terms``: one keyword ``key=value`` for every scalar at every depth.
A ``match`` becomes a ``term`` filter on it, which is a necessary condition;
the exact rule (the shallowest key wins) is then checked on the few documents
the cluster returns, so results equal the SQL backends' to the document.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

from freezer_core.errors import ConfigError
from freezer_service.db.base import KINDS
from freezer_service.db.search import Search, find

#: Longest ``key=value`` term indexed; longer values are only checked after the query.
MAX_TERM = 1000

MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "project_id": {"type": "keyword"},
        "doc_id": {"type": "keyword"},
        "key": {"type": "keyword"},
        "is_central": {"type": "boolean"},
        "version": {"type": "long"},
        "seq": {"type": "long"},
        "client_id": {"type": "keyword"},
        "time_stamp": {"type": "double"},
        "terms": {"type": "keyword", "ignore_above": MAX_TERM * 4},
        "doc": {"type": "object", "enabled": False},
    },
}

#: Insertion order, then the unique key: the same order on every page and every replica.
SORT = [{"seq": "asc"}, {"key": "asc"}]

_BAD_INDEX = re.compile(r'[\\/*?"<>| ,#:A-Z]')


def index_names(prefix: str) -> dict[str, str]:
    """``{kind: index}``: one index per document type, named ``<prefix>-<kind>``."""
    if not prefix or _BAD_INDEX.search(prefix) or prefix[0] in "-_+." or len(prefix) > 200:
        raise ConfigError(f"[elasticsearch] index {prefix!r} is not a valid index name prefix "
                          "(lowercase, no spaces or \\/*?\"<>|,#:)")
    return {kind: f"{prefix}-{kind}" for kind in KINDS}


def template(prefix: str, replicas: int) -> dict[str, Any]:
    """The composable index template applied to the prefix's indices (exact names, no wildcard overlap)."""
    return {"index_patterns": list(index_names(prefix).values()), "priority": 100,
            "template": {"settings": {"number_of_shards": 1, "number_of_replicas": replicas},
                         "mappings": MAPPING},
            "_meta": {"description": "Freezer API metadata documents"}}


def doc_key(project_id: str, doc_id: str) -> str:
    """The unique sort key of a document within its index (unambiguous for any project id)."""
    return f"{len(project_id)}.{project_id}/{doc_id}"


def document_id(project_id: str, doc_id: str) -> str:
    """The ``_id``: readable when short enough, a digest past the cluster's 512-byte limit."""
    key = doc_key(project_id, doc_id)
    if len(key.encode()) <= 512:
        return key
    return "sha256-" + hashlib.sha256(key.encode()).hexdigest()


def encode(value: Any) -> str | None:
    """A scalar as it appears in a term, or None when it cannot be a term.

    Python's equality (used by the exact check) holds ``True == 1 == 1.0``; the
    encoding maps all three to ``1`` so the filter never drops a real match.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return json.dumps(value)
    return None


def term(key: str, value: Any) -> str | None:
    encoded = encode(value)
    if encoded is None:
        return None
    text = f"{key}={encoded}"
    return text if len(text) <= MAX_TERM else None


def terms(doc: Any) -> list[str]:
    """Every ``key=value`` term of the document's scalars, at any depth (lists included)."""
    return sorted({t for k, v in _pairs(doc) if (t := term(k, v)) is not None})


def _pairs(doc: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield str(key), value
            yield from _pairs(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from _pairs(value)


def source(kind: str, project_id: str, doc_id: str, doc: dict[str, Any], *, version: int, seq: int,
           is_central: bool) -> dict[str, Any]:
    """The indexed body of one document."""
    stamp = find(doc, "time_stamp")
    client = doc.get("client_id") if kind == "jobs" else None
    return {"project_id": project_id, "doc_id": doc_id, "key": doc_key(project_id, doc_id),
            "is_central": is_central, "version": version, "seq": seq,
            "client_id": str(client) if client is not None else None,
            "time_stamp": float(stamp) if isinstance(stamp, int | float) else None,
            "terms": terms(doc), "doc": doc}


def filters(search: Search | None) -> list[dict[str, Any]]:
    """The necessary conditions of ``search`` that the cluster can check (match terms, time range)."""
    if not search:
        return []
    out: list[dict[str, Any]] = []
    for key, value in search.match:
        text = term(key, value)
        if text is not None:
            out.append({"term": {"terms": text}})
    if search.time_after is not None or search.time_before is not None:
        bounds = {"gte": search.time_after, "lte": search.time_before}
        out.append({"range": {"time_stamp": {k: v for k, v in bounds.items() if v is not None}}})
    return out
