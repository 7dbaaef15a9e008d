"""recordings

Revision ID: 0003_recordings
Revises: 0001_core
Create Date: 2026-11-27

Session recordings: one row per session (seal, composite job, legal hold) and one per
participant track-segment file.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models.base

revision: str = "0003_recordings"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = server.models.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("sealed_at", UTC(timezone=True), nullable=True),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=True),
        sa.Column("manifest_signature", sa.String(length=128), nullable=True),
        sa.Column("key_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("interrupted", sa.Boolean(), nullable=False),
        sa.Column("alarm", sa.Text(), nullable=True),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("hold_reason", sa.String(length=255), nullable=False),
        sa.Column("purged_at", UTC(timezone=True), nullable=True),
        sa.Column("composite_status", sa.String(length=16), nullable=False),
        sa.Column("composite_progress", sa.Float(), nullable=False),
        sa.Column("composite_attempts", sa.Integer(), nullable=False),
        sa.Column("composite_error", sa.Text(), nullable=False),
        sa.Column("composite_path", sa.String(length=255), nullable=True),
        sa.Column("composite_size", sa.BigInteger(), nullable=True),
        sa.Column("composite_duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("composite_sha256", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_recordings_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["mediation_sessions.id"],
            name=op.f("fk_recordings_session_id_mediation_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("session_id", name=op.f("uq_recordings_session_id")),
    )
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recordings_case_id"), ["case_id"], unique=False)

    op.create_table(
        "recording_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("peer_id", sa.String(length=64), nullable=False),
        sa.Column("identity", sa.String(length=64), nullable=False),
        sa.Column("participant", sa.String(length=128), nullable=False),
        sa.Column("room", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("codec", sa.String(length=16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTC(timezone=True), nullable=False),
        sa.Column("ended_at", UTC(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("frames", sa.Integer(), nullable=True),
        sa.Column("keyframes", sa.Integer(), nullable=True),
        sa.Column("lost_frames", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_recording_segments_recording_id_recordings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_segments")),
        sa.UniqueConstraint("uid", name=op.f("uq_recording_segments_uid")),
    )
    with op.batch_alter_table("recording_segments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recording_segments_recording_id"), ["recording_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_recording_segments_status"), ["status"], unique=False)


def downgrade() -> None:
    op.drop_table("recording_segments")
    op.drop_table("recordings")
