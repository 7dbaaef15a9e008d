"""the duty desk

Revision ID: 0012_duty_desk
Revises: 0011_session_guests
Create Date: 2026-12-04

The duty roster per half-day and the calls street offices place to the center
(``server.models.desk``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.models.base import UTCDateTime

revision: str = "0012_duty_desk"
down_revision: str | Sequence[str] | None = "0011_session_guests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _user(name: str, *, nullable: bool = True, ondelete: str | None = None) -> sa.Column[int]:
    return sa.Column(
        name, sa.Integer(), sa.ForeignKey("users.id", ondelete=ondelete), nullable=nullable
    )


def upgrade() -> None:
    op.create_table(
        "duty_slots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("half", sa.String(2), nullable=False),
        _user("user_id", nullable=False, ondelete="CASCADE"),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.UniqueConstraint("day", "half", "user_id", name="uq_duty_slot"),
    )
    op.create_index("ix_duty_slots_day", "duty_slots", ["day"])
    op.create_table(
        "desk_calls",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("office_id", sa.Integer(), sa.ForeignKey("offices.id"), nullable=False),
        _user("caller_id", nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("called_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("roster", sa.String(255), nullable=False),
        sa.Column("answered_at", UTCDateTime(timezone=True), nullable=True),
        _user("answered_by_id"),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "session_id",
            sa.Integer(),
            sa.ForeignKey("mediation_sessions.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("callback_phone", sa.String(32), nullable=True),
        sa.Column("callback_note", sa.String(255), nullable=False),
        sa.Column("callback_requested_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("called_back_at", UTCDateTime(timezone=True), nullable=True),
        _user("called_back_by_id"),
    )
    op.create_index("ix_desk_calls_office_id", "desk_calls", ["office_id"])
    op.create_index("ix_desk_calls_status", "desk_calls", ["status"])
    op.create_index("ix_desk_calls_called_at", "desk_calls", ["called_at"])


def downgrade() -> None:
    op.drop_table("desk_calls")
    op.drop_table("duty_slots")
