"""session guests (joint mediation)

Revision ID: 0011_session_guests
Revises: 0010_case_documents
Create Date: 2026-12-04

Guests of joint mediation (联调, ``server.models.sessions.SessionGuest``): a people's
mediator, a police officer, a labour inspector, an interpreter, with their organisation, role,
the party an interpreter serves and whether the host lets them into caucus rooms. Their links
are invite rows: an invite names a party or a guest, exactly one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.models.base import UTCDateTime

revision: str = "0011_session_guests"
down_revision: str | Sequence[str] | None = "0010_case_documents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "session_guests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "session_id",
            sa.Integer(),
            sa.ForeignKey("mediation_sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("organisation", sa.String(100), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column(
            "serves_party_id",
            sa.Integer(),
            sa.ForeignKey("parties.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("may_caucus", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_session_guests_session_id", "session_guests", ["session_id"])
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.alter_column("party_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("guest_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_invites_guest_id_session_guests"),
            "session_guests",
            ["guest_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(op.f("ix_invites_guest_id"), ["guest_id"])
        batch_op.create_check_constraint(
            op.f("ck_invites_party_or_guest"), "(party_id IS NULL) <> (guest_id IS NULL)"
        )


def downgrade() -> None:
    op.execute("DELETE FROM invites WHERE guest_id IS NOT NULL")
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_invites_party_or_guest"), type_="check")
        batch_op.drop_index(op.f("ix_invites_guest_id"))
        batch_op.drop_constraint(op.f("fk_invites_guest_id_session_guests"), type_="foreignkey")
        batch_op.drop_column("guest_id")
        batch_op.alter_column("party_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index("ix_session_guests_session_id", table_name="session_guests")
    op.drop_table("session_guests")
