"""audit sequencer and checkpoints

Revision ID: 0007_audit_sequencer
Revises: 0001_core
Create Date: 2026-12-02

The audit log is chained after commit by one sequencer instead of under a court-wide lock in
every writing transaction (server.audit): a row carries its chain position ``seq`` and its
hashes only once chained, and signed checkpoints record the chain's head. Rows written before
this revision were chained in id order, so their position is their id.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models.base

revision: str = "0007_audit_sequencer"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("written_at", server.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("chained_at", server.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=True)
    op.execute("UPDATE audit_log SET seq = id, chained_at = at")
    if op.get_bind().dialect.name == "postgresql":
        # Ids were given by hand under the old lock; the serial's sequence never moved.
        op.execute(
            "SELECT setval(pg_get_serial_sequence('audit_log', 'id'),"
            " COALESCE((SELECT MAX(id) FROM audit_log), 0) + 1, false)"
        )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_audit_log_seq"), ["seq"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("at", server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
        sa.UniqueConstraint("size", name=op.f("uq_audit_checkpoints_size")),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_log_seq"), type_="unique")
        batch_op.drop_column("chained_at")
        batch_op.drop_column("written_at")
        batch_op.drop_column("seq")
