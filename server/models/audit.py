"""The append-only, hash-chained audit log and its signed checkpoints (``server.audit``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    """One audited change. Written in the change's own transaction with ``seq``, ``prev_hash``
    and ``hash`` empty; the sequencer gives it its place in the chain after it commits."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))  # "user:12", "party:3", "system"
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    address: Mapped[str | None] = mapped_column(String(64), default=None)
    # The chain: position (1, 2, ...), the previous row's hash and this row's; NULL while the
    # row waits for the sequencer.
    seq: Mapped[int | None] = mapped_column(Integer, unique=True, default=None)
    prev_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    # Real wall-clock times of writing and of chaining (``at`` is the court's clock, which a
    # demo or a back-dated import sets to another day): the sequencer's delay is between them.
    written_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    chained_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class AuditCheckpoint(Base):
    """A signed statement "the chain's first ``size`` rows end in ``head_hash``" (the way a
    Certificate Transparency log signs its tree heads); exported, it lets an auditor check a
    later log against it."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    size: Mapped[int] = mapped_column(Integer, unique=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(Text)  # base64 Ed25519 over ``statement()``
