"""scheduling

Revision ID: 0004_scheduling
Revises: 0001_core
Create Date: 2026-11-27

Rooms and terminals, working hours, bookings and their reservations, the mail outbox and
calendar feeds. On PostgreSQL the reservations table carries the exclusion constraint that
makes a double booking impossible; SQLite relies on its serialized write transactions.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from server.models.base import UTCDateTime

revision: str = "0004_scheduling"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The center's mediation rooms: how many sessions it can hold at once (an admin changes it).
DEFAULT_ROOMS = 3


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "sched_facilities",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("office_id", sa.Integer(), sa.ForeignKey("offices.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_sched_facilities_office_id", "sched_facilities", ["office_id"])
    op.create_table(
        "sched_working_hours",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("blocks", sa.JSON(), nullable=False),
    )
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "case_id", sa.Integer(), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("office_id", sa.Integer(), sa.ForeignKey("offices.id"), nullable=False),
        sa.Column(
            "session_id", sa.Integer(), sa.ForeignKey("mediation_sessions.id"), nullable=False
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("host_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("room_id", sa.Integer(), sa.ForeignKey("sched_facilities.id"), nullable=False),
        sa.Column(
            "terminal_id", sa.Integer(), sa.ForeignKey("sched_facilities.id"), nullable=False
        ),
        _ts("starts_at"),
        _ts("ends_at"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("uid", sa.String(128), nullable=False, unique=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("cancel_reason", sa.String(500), nullable=True),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )
    for col in ("case_id", "office_id", "host_id", "starts_at", "status"):
        op.create_index(f"ix_bookings_{col}", "bookings", [col])
    op.create_table(
        "reservations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "booking_id",
            sa.Integer(),
            sa.ForeignKey("bookings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("resource", sa.String(48), nullable=False),
        _ts("starts_at"),
        _ts("ends_at"),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_reservations_booking_id", "reservations", ["booking_id"])
    op.create_index("ix_reservations_resource_start", "reservations", ["resource", "starts_at"])
    if op.get_bind().dialect.name == "postgresql":
        # The guarantee: no two active reservations of one resource overlap in time, whatever
        # the application does. Half-open ranges, so back-to-back sessions are allowed.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE reservations ADD CONSTRAINT ex_reservations_no_overlap "
            "EXCLUDE USING gist (resource WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
            "WHERE (active)"
        )
        op.execute(
            "ALTER TABLE reservations ADD CONSTRAINT ck_reservations_order "
            "CHECK (ends_at > starts_at)"
        )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "booking_id",
            sa.Integer(),
            sa.ForeignKey("bookings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("recipient_name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("ics", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at"),
        _ts("lease_until", nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        _ts("sent_at", nullable=True),
        _ts("created_at"),
    )
    op.create_index("ix_outbox_booking_id", "outbox", ["booking_id"])
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        _ts("created_at"),
        _ts("revoked_at", nullable=True),
    )
    op.create_index("ix_calendar_feeds_user_id", "calendar_feeds", ["user_id"])
    _seed_facilities()


def _seed_facilities() -> None:
    """One video terminal per street office and the center's mediation rooms."""
    bind = op.get_bind()
    offices = bind.execute(sa.text("SELECT id, code, is_center FROM offices ORDER BY id")).all()
    table = sa.table(
        "sched_facilities",
        sa.column("kind", sa.String),
        sa.column("office_id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("active", sa.Boolean),
    )
    rows: list[dict[str, object]] = []
    for office_id, _code, is_center in offices:
        if is_center:
            rows += [
                {"kind": "room", "office_id": office_id, "name": f"调解室 {n}", "active": True}
                for n in range(1, DEFAULT_ROOMS + 1)
            ]
        else:
            rows.append(
                {"kind": "terminal", "office_id": office_id, "name": "视频终端 1", "active": True}
            )
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_table("calendar_feeds")
    op.drop_table("outbox")
    op.drop_table("reservations")
    op.drop_table("bookings")
    op.drop_table("sched_working_hours")
    op.drop_table("sched_facilities")
