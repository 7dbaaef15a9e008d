"""Recordings of live sessions: one ``Recording`` per session, one ``RecordingSegment`` per
participant per track-segment (a file), plus the sealed manifest and the composite job state.

File paths are stored relative to ``<data_dir>/recordings`` and are made by the server from
ids, never from user input; routes look files up by row id.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, UTCDateTime, utcnow
from server.models.sessions import MediationSession


class SegmentStatus(StrEnum):
    RECORDING = "recording"
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"  # the server died while writing; recovered at start-up
    FAILED = "failed"  # the writer hit an error (e.g. a full disk); file kept as far as written
    # No media reached the disk (a kill right after the segment opened): recorded as such,
    # never sealed as a recording; its header-only file is removed by recovery.
    EMPTY = "empty"
    PURGED = "purged"


class CompositeStatus(StrEnum):
    NONE = "none"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("mediation_sessions.id", ondelete="CASCADE"), unique=True
    )
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # Whether media is being written now: the host may stop and restart it.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    manifest_signature: Mapped[str | None] = mapped_column(String(128), default=None)
    key_fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    alarm: Mapped[str | None] = mapped_column(Text, default=None)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    hold_reason: Mapped[str] = mapped_column(String(255), default="")
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    composite_status: Mapped[str] = mapped_column(String(16), default=CompositeStatus.NONE)
    composite_progress: Mapped[float] = mapped_column(Float, default=0.0)
    composite_attempts: Mapped[int] = mapped_column(Integer, default=0)
    composite_error: Mapped[str] = mapped_column(Text, default="")
    composite_path: Mapped[str | None] = mapped_column(String(255), default=None)
    composite_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    composite_duration_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    composite_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    # The node rendering it and until when its claim holds (renewed while it renders): with
    # several nodes, a job runs once, and a dead node's job is taken over when this passes.
    composite_owner: Mapped[str | None] = mapped_column(String(128), default=None)
    composite_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    session: Mapped[MediationSession] = relationship(lazy="joined")
    segments: Mapped[list[RecordingSegment]] = relationship(
        back_populates="recording", order_by="RecordingSegment.id", lazy="selectin"
    )


class RecordingSegment(Base):
    __tablename__ = "recording_segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), index=True
    )
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    peer_id: Mapped[str] = mapped_column(String(64))
    identity: Mapped[str] = mapped_column(String(64), default="")  # user:<id> | party:<id>
    participant: Mapped[str] = mapped_column(String(128), default="")
    room: Mapped[str] = mapped_column(String(64), default="main")
    label: Mapped[str] = mapped_column(String(16))  # camera | screen | audio
    kind: Mapped[str] = mapped_column(String(8))  # video | audio
    codec: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=SegmentStatus.RECORDING, index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    end_reason: Mapped[str] = mapped_column(String(32), default="")
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    frames: Mapped[int | None] = mapped_column(Integer, default=None)
    keyframes: Mapped[int | None] = mapped_column(Integer, default=None)
    lost_frames: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    # The node whose recorder writes it: with several nodes, a node recovers at start only
    # what it left open itself, and a dead node's open segments are recovered by another
    # (``server.cluster.recovery``); another live node's are never touched.
    node: Mapped[str] = mapped_column(String(128), default="", server_default="", index=True)

    recording: Mapped[Recording] = relationship(back_populates="segments")
