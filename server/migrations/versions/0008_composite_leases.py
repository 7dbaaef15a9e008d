"""composite render leases

Revision ID: 0008_composite_leases
Revises: 0003_recordings
Create Date: 2026-12-03

Who renders a recording's composite and until when (``recordings.jobs``): with several nodes
on one database, a job is claimed with a lease that its node renews while it renders; another
node takes it over only once the lease has run out.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_composite_leases"
down_revision: str | Sequence[str] | None = "0003_recordings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("composite_owner", sa.String(128), nullable=True))
        batch_op.add_column(
            sa.Column("composite_lease_until", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_column("composite_lease_until")
        batch_op.drop_column("composite_owner")
