"""The document table.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "freezer_documents",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("project_id", sa.String(255), nullable=False),
        sa.Column("doc_id", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=True),
        sa.Column("is_central", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("doc", sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb"), nullable=False),
        sa.UniqueConstraint("kind", "project_id", "doc_id", name="uq_documents_kind_project_id"),
    )
    op.create_index("ix_documents_kind_project_seq", "freezer_documents", ["kind", "project_id", "seq"])
    op.create_index("ix_documents_kind_doc_id", "freezer_documents", ["kind", "doc_id"])


def downgrade() -> None:
    op.drop_table("freezer_documents")
