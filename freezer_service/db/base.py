"""The metadata backend interface: a versioned document store scoped by project.

Every resource of the API (backups, clients, actions, jobs, sessions) is a JSON
document with an id that is unique within its kind and project.  Backends
store documents opaquely, which keeps this interface small enough for a SQL
database and a search engine (Elasticsearch/OpenSearch) alike.

Each stored document carries an integer ``version`` that grows on every write.
:meth:`Backend.update` is a read-modify-write loop guarded by it, so two
concurrent PATCHes never lose each other's change.  The loop (and the one of
:meth:`Backend.put`) is written once here, over two primitives that each
backend implements with its own compare-and-swap: :meth:`Backend._current`
reads a document with its concurrency token, :meth:`Backend._swap` replaces
it only if nobody wrote since.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from freezer_core.errors import FreezerError
from freezer_service.db.search import Search

KINDS = ("backups", "clients", "actions", "jobs", "sessions")


class DocumentExists(FreezerError):
    """A document with this id already exists in the project."""

    http_status = 409


class ConcurrentUpdate(FreezerError):
    """A document kept changing under a read-modify-write: retry the request."""

    http_status = 409


class StaleVersion(ConcurrentUpdate):
    """The document changed since the version the caller read (``If-Match`` failed)."""


@dataclass
class Stored:
    """One document as the backend holds it."""

    kind: str
    project_id: str
    doc_id: str
    doc: dict[str, Any]
    version: int
    is_central: bool = False


@dataclass(frozen=True)
class Read:
    """A document as read for a write; backends add the token their :meth:`Backend._swap` compares."""

    stored: Stored


Mutator = Callable[[dict[str, Any]], dict[str, Any]]
R = TypeVar("R", bound=Read)


class Backend(ABC, Generic[R]):
    """A metadata store; implementations are registered under ``freezer.db.backends``."""

    name: str = ""
    #: Read-compare-swap rounds before a write gives up with :class:`ConcurrentUpdate`.
    retries: int = 50

    @abstractmethod
    def upgrade(self) -> None:
        """Create or migrate the schema (idempotent)."""

    @abstractmethod
    def get(self, kind: str, project_id: str | None, doc_id: str) -> Stored | None:
        """The document, or ``None``.  ``project_id=None`` looks in every project."""

    @abstractmethod
    def list(self, kind: str, project_id: str | None, search: Search | None = None, *,
             limit: int = 10, offset: int = 0, include_central: bool = False) -> list[Stored]:
        """Documents in insertion order (stable across pages).

        ``project_id=None`` lists every project; ``include_central`` adds the
        central documents (clients) of other projects.
        """

    @abstractmethod
    def create(self, kind: str, project_id: str, doc_id: str, doc: dict[str, Any], *,
               is_central: bool = False) -> Stored:
        """Insert a new document; :class:`DocumentExists` if the id is taken in the project."""

    def put(self, kind: str, project_id: str, doc_id: str, doc: dict[str, Any], *,
            is_central: bool = False) -> Stored:
        """Create the document or replace it whole."""
        for attempt in range(self.retries):
            current = self._current(kind, project_id, doc_id)
            if current is None:
                try:
                    return self.create(kind, project_id, doc_id, doc, is_central=is_central)
                except DocumentExists:
                    continue  # created by another writer since the read: replace theirs
            stored = self._swap(current, doc, is_central)
            if stored is not None:
                return stored
            self._lost_race(attempt)
        raise ConcurrentUpdate(f"{kind[:-1]} {doc_id} is being changed by others: retry")

    def update(self, kind: str, project_id: str | None, doc_id: str, mutate: Mutator, *,
               expected_version: int | None = None) -> Stored | None:
        """Apply ``mutate`` to the current document and store the result atomically.

        ``mutate`` may be called several times (it must not have side effects
        beyond its return value) and may raise to abort.  Returns ``None`` when
        the document does not exist.  With ``expected_version`` the update
        happens only if the document is still at that version, else
        :class:`StaleVersion` is raised: this is how two schedulers sharing a
        client id never both claim the same job run.
        """
        for attempt in range(self.retries):
            current = self._current(kind, project_id, doc_id)
            if current is None:
                return None
            old = current.stored
            if expected_version is not None and old.version != expected_version:
                raise StaleVersion(f"{kind[:-1]} {doc_id} is at version {old.version}, not {expected_version}: "
                                   f"read it again")
            stored = self._swap(current, mutate(json.loads(json.dumps(old.doc))), old.is_central)
            if stored is not None:
                return stored
            self._lost_race(attempt)
        raise ConcurrentUpdate(f"{kind[:-1]} {doc_id} is being changed by others: retry")

    @abstractmethod
    def _current(self, kind: str, project_id: str | None, doc_id: str) -> R | None:
        """The document with the token :meth:`_swap` compares, or ``None``.  ``project_id=None``: any project."""

    @abstractmethod
    def _swap(self, current: R, doc: dict[str, Any], is_central: bool) -> Stored | None:
        """Replace the document read as ``current`` by ``doc`` (version + 1) if nobody wrote since; else None."""

    def _lost_race(self, attempt: int) -> None:
        """Called when a swap lost to another writer, before the next round (default: retry at once)."""

    @abstractmethod
    def delete(self, kind: str, project_id: str | None, doc_id: str) -> bool:
        """Remove the document; False when there was none."""

    @abstractmethod
    def find_central(self, kind: str, doc_id: str) -> Stored | None:
        """A central document with this id in any project (central clients)."""

    def close(self) -> None:
        """Release connections."""
