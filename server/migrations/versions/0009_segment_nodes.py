"""the node that writes each recording segment

Revision ID: 0009_segment_nodes
Revises: 0008_composite_leases
Create Date: 2026-12-04

With several nodes on one database and one shared recordings directory, a node that starts
must recover only the segments it left open itself, and a dead node's open segments are
recovered by a live one: each segment row says which node's recorder writes it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_segment_nodes"
down_revision: str | Sequence[str] | None = "0008_composite_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recording_segments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node", sa.String(128), nullable=False, server_default=""))
        batch_op.create_index("ix_recording_segments_node", ["node"])


def downgrade() -> None:
    with op.batch_alter_table("recording_segments", schema=None) as batch_op:
        batch_op.drop_index("ix_recording_segments_node")
        batch_op.drop_column("node")
