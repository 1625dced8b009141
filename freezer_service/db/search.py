"""Search bodies of list requests: ``match``, ``match_not`` and ``_all``.

Clients send a JSON body on GET lists, for example the scheduler's
``{"match_not": [{"status": "completed"}], "match": [{"client_id": ID}]}``.
Each ``{key: value}`` is looked up *anywhere* in the document (the shallowest
occurrence wins, so ``status`` finds ``job_schedule.status``) and compared for
equality.  ``{"_all": TEXT}`` is either a JSON list of such pairs, or plain
text that must appear in some value of the document: the CLI's ``--search
foo`` then filters as its user expects instead of being ignored.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from freezer_core.errors import ValidationError

_MISSING = object()


@dataclass(frozen=True)
class Search:
    """A parsed search body; an empty one matches every document."""

    match: list[tuple[str, Any]] = field(default_factory=list)
    match_not: list[tuple[str, Any]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    time_after: int | None = None
    time_before: int | None = None

    def __bool__(self) -> bool:
        return bool(self.match or self.match_not or self.text
                    or self.time_after is not None or self.time_before is not None)

    def matches(self, doc: Mapping[str, Any]) -> bool:
        """True when ``doc`` satisfies every ``match``, no ``match_not`` and every text term."""
        if any(find(doc, key) != value for key, value in self.match):
            return False
        if any(find(doc, key) == value for key, value in self.match_not):
            return False
        if self.text:
            values = [str(v).lower() for v in _leaves(doc)]
            if not all(any(term in v for v in values) for term in self.text):
                return False
        if self.time_after is not None or self.time_before is not None:
            stamp = find(doc, "time_stamp")
            if not isinstance(stamp, int | float):
                return False
            if self.time_after is not None and stamp < self.time_after:
                return False
            if self.time_before is not None and stamp > self.time_before:
                return False
        return True


def find(doc: Any, key: str) -> Any:
    """The value of the shallowest ``key`` in ``doc`` (breadth first), or a sentinel."""
    queue: deque[Any] = deque([doc])
    while queue:
        node = queue.popleft()
        if isinstance(node, Mapping):
            if key in node:
                return node[key]
            queue.extend(node.values())
        elif isinstance(node, list):
            queue.extend(node)
    return _MISSING


def _leaves(doc: Any) -> Iterator[Any]:
    if isinstance(doc, Mapping):
        for value in doc.values():
            yield from _leaves(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from _leaves(value)
    elif doc is not None:
        yield doc


def _pairs(terms: Any, what: str) -> list[tuple[str, Any]]:
    if isinstance(terms, Mapping):
        terms = [terms]
    if not isinstance(terms, list) or not all(isinstance(t, Mapping) for t in terms):
        raise ValidationError(f"'{what}' must be a list of {{key: value}} objects")
    return [(str(k), v) for term in terms for k, v in term.items()]


def parse(body: Any, time_after: Any = None, time_before: Any = None) -> Search:
    """Read a search body (``None`` when the request had none)."""
    if body is None or body == {}:
        body = {}
    if not isinstance(body, Mapping):
        raise ValidationError("the search body must be a JSON object with 'match' and/or 'match_not'")
    match: list[tuple[str, Any]] = []
    text: list[str] = []
    for key, value in _pairs(body.get("match", []), "match"):
        if key != "_all":
            match.append((key, value))
            continue
        decoded = _decode_all(value)
        if decoded is None:
            text.extend(str(value).lower().split())
        else:
            match.extend(decoded)
    return Search(match=match, match_not=_pairs(body.get("match_not", []), "match_not"), text=text,
                  time_after=_int_or_none(time_after if time_after is not None else body.get("time_after")),
                  time_before=_int_or_none(time_before if time_before is not None else body.get("time_before")))


def _decode_all(value: Any) -> list[tuple[str, Any]] | None:
    if not isinstance(value, str):
        return None
    try:
        decoded = json.loads(value)
    except ValueError:
        return None
    if isinstance(decoded, Mapping):
        decoded = [decoded]
    if not isinstance(decoded, list) or not all(isinstance(t, Mapping) for t in decoded):
        return None
    return [(str(k), v) for term in decoded for k, v in term.items()]


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"time_after/time_before must be epoch seconds, not {value!r}") from None
