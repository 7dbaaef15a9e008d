"""the electronic case file

Revision ID: 0010_case_documents
Revises: 0009_segment_nodes
Create Date: 2026-12-04

Documents kept with a case (``server.models.documents``): the file's name, type, size and
SHA-256, who brought it and how; the bytes live under the data directory.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.models.base import UTCDateTime

revision: str = "0010_case_documents"
down_revision: str | Sequence[str] | None = "0009_segment_nodes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_documents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.String(255), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column(
            "uploaded_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "party_id",
            sa.Integer(),
            sa.ForeignKey("parties.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("purged_at", UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_case_documents_case_id", "case_documents", ["case_id"])
    op.create_table(
        "case_document_showings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "document_id",
            sa.Integer(),
            sa.ForeignKey("case_documents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "session_id",
            sa.Integer(),
            sa.ForeignKey("mediation_sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("room", sa.String(64), nullable=False),
        sa.Column(
            "shown_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("party_ids", sa.JSON(), nullable=False),
        sa.Column("shown_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_case_document_showings_document_id", "case_document_showings", ["document_id"]
    )
    op.create_index(
        "ix_case_document_showings_session_id", "case_document_showings", ["session_id"]
    )


def downgrade() -> None:
    op.drop_table("case_document_showings")
    op.drop_index("ix_case_documents_case_id", "case_documents")
    op.drop_table("case_documents")
