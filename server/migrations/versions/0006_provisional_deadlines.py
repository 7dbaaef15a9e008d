"""provisional fast-track deadlines

Revision ID: 0006_provisional_deadlines
Revises: 0001_core
Create Date: 2026-12-02

Whether a case's fast-track deadline was counted over a year no official calendar covered yet
(server.workdays): such a deadline is shown as provisional and recomputed when the year is
official.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_provisional_deadlines"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "fast_track_deadline_provisional",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("fast_track_deadline_provisional")
