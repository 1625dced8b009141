"""The SQLAlchemy metadata backend: SQLite (embedded default), PostgreSQL, MariaDB.

Writes are guarded by the ``version`` column (``UPDATE ... WHERE version = v``)
and retried on conflict by :class:`~freezer_service.db.base.Backend`'s loop, so
concurrent read-modify-writes never lose an update.  SQLite allows a single
writer: there, writes of this process are also serialized by a lock, which
turns "database is locked" into waiting.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from freezer_service.db.base import Backend, DocumentExists, Read, Stored
from freezer_service.db.search import Search
from freezer_service.db.sqlalchemy.models import documents as t

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _client_id(kind: str, doc: dict[str, Any]) -> str | None:
    value = doc.get("client_id") if kind == "jobs" else None
    return str(value)[:255] if value is not None else None


class SQLAlchemyBackend(Backend[Read]):
    """Documents in one SQL table (see :mod:`.models`)."""

    name = "sqlalchemy"

    def __init__(self, connection: str = "sqlite://", **_: Any) -> None:
        url = sa.engine.make_url(connection)
        self.is_sqlite = url.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"future": True, "pool_pre_ping": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if url.database in (None, "", ":memory:"):
                kwargs["poolclass"] = sa.pool.StaticPool
        else:
            kwargs.update(pool_size=10, max_overflow=40, pool_recycle=3600)
        self.engine: Engine = sa.create_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._write_lock = threading.RLock() if self.is_sqlite else None

    # -- plumbing ---------------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    def upgrade(self) -> None:
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self._writing() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        self.engine.dispose()

    @staticmethod
    def _stored(row: Any) -> Stored:
        return Stored(kind=row.kind, project_id=row.project_id, doc_id=row.doc_id, doc=json.loads(row.doc),
                      version=row.version, is_central=bool(row.is_central))

    @staticmethod
    def _where(kind: str, project_id: str | None, doc_id: str) -> Any:
        cond = sa.and_(t.c.kind == kind, t.c.doc_id == doc_id)
        return cond if project_id is None else sa.and_(cond, t.c.project_id == project_id)

    # -- reads ------------------------------------------------------------------------------------

    def get(self, kind: str, project_id: str | None, doc_id: str) -> Stored | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(self._where(kind, project_id, doc_id))
                               .order_by(t.c.seq).limit(1)).first()
        return self._stored(row) if row is not None else None

    def find_central(self, kind: str, doc_id: str) -> Stored | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.kind == kind, t.c.doc_id == doc_id, t.c.is_central)
                               .order_by(t.c.seq).limit(1)).first()
        return self._stored(row) if row is not None else None

    def list(self, kind: str, project_id: str | None, search: Search | None = None, *,
             limit: int = 10, offset: int = 0, include_central: bool = False) -> list[Stored]:
        query = sa.select(t).where(t.c.kind == kind).order_by(t.c.seq)
        if project_id is not None:
            scope = t.c.project_id == project_id
            query = query.where(sa.or_(scope, t.c.is_central) if include_central else scope)
        if search:
            narrowed = [v for k, v in search.match if k == "client_id" and isinstance(v, str)]
            if kind == "jobs" and narrowed:
                query = query.where(t.c.client_id == narrowed[0])
            out: list[Stored] = []
            skipped = 0
            with self.engine.connect() as conn:
                for row in conn.execute(query).yield_per(500):
                    stored = self._stored(row)
                    if not search.matches(stored.doc):
                        continue
                    if skipped < offset:
                        skipped += 1
                        continue
                    out.append(stored)
                    if len(out) >= limit:
                        break
            return out
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit).offset(offset)).all()
        return [self._stored(r) for r in rows]

    # -- writes -----------------------------------------------------------------------------------

    def create(self, kind: str, project_id: str, doc_id: str, doc: dict[str, Any], *,
               is_central: bool = False) -> Stored:
        try:
            with self._writing() as conn:
                conn.execute(t.insert().values(kind=kind, project_id=project_id, doc_id=doc_id,
                                               client_id=_client_id(kind, doc), is_central=is_central,
                                               version=1, doc=json.dumps(doc)))
        except sa.exc.IntegrityError:
            raise DocumentExists(f"{kind[:-1]} {doc_id} already exists in project {project_id}") from None
        return Stored(kind, project_id, doc_id, doc, 1, is_central)

    def _current(self, kind: str, project_id: str | None, doc_id: str) -> Read | None:
        """The row as it is now: its ``version`` column is the token :meth:`_swap` compares."""
        stored = self.get(kind, project_id, doc_id)
        return Read(stored) if stored is not None else None

    def _swap(self, current: Read, doc: dict[str, Any], is_central: bool) -> Stored | None:
        """``UPDATE ... WHERE version = <read version>``: None when another writer came first."""
        old = current.stored
        version = old.version + 1
        with self._writing() as conn:
            done = conn.execute(
                t.update().where(self._where(old.kind, old.project_id, old.doc_id), t.c.version == old.version)
                .values(doc=json.dumps(doc), version=version, is_central=is_central,
                        client_id=_client_id(old.kind, doc)))
        if done.rowcount != 1:
            return None
        return Stored(old.kind, old.project_id, old.doc_id, doc, version, is_central)

    def delete(self, kind: str, project_id: str | None, doc_id: str) -> bool:
        with self._writing() as conn:
            done = conn.execute(t.delete().where(self._where(kind, project_id, doc_id)))
        return bool(done.rowcount)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
