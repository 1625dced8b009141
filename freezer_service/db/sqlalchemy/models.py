"""The SQL schema: one table of versioned JSON documents.

One table rather than one per resource: the API treats every resource as a
document, searches run over the whole document, and a single shape keeps
migrations and the three supported databases (SQLite, PostgreSQL, MariaDB)
simple.  ``client_id`` is copied out of jobs so that schedulers' polls can be
narrowed in SQL.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint
from sqlalchemy.dialects import mysql

metadata = MetaData()

documents = Table(
    "freezer_documents", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("project_id", String(255), nullable=False),
    Column("doc_id", String(255), nullable=False),
    Column("client_id", String(255), nullable=True),
    Column("is_central", Boolean, nullable=False, default=False),
    Column("version", Integer, nullable=False, default=1),
    Column("doc", Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=False),
    UniqueConstraint("kind", "project_id", "doc_id", name="uq_documents_kind_project_id"),
    Index("ix_documents_kind_project_seq", "kind", "project_id", "seq"),
    Index("ix_documents_kind_doc_id", "kind", "doc_id"),
)
