"""Live sessions (a mediation or a fast-track hearing held by video) and party invites.

A booking (scheduling) or the case page creates the session record; the signaling server
runs it while it is live; recordings and agreements hang off it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, UTCDateTime, utcnow
from server.models.docket import Case, Party


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    ENDED = "ended"
    CANCELLED = "cancelled"


class MediationSession(Base):
    __tablename__ = "mediation_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="mediation")  # mediation | hearing
    status: Mapped[str] = mapped_column(String(16), default=SessionStatus.SCHEDULED)
    host_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"), default=None)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Caucus rooms are recorded unless the host's policy says otherwise; shown before joining.
    record_caucus: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(lazy="joined")


class Invite(Base):
    """A party's link into one session. The link carries a signed token naming this row;
    revoking or expiring the row kills the link."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("mediation_sessions.id", ondelete="CASCADE"), index=True
    )
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    session: Mapped[MediationSession] = relationship(lazy="joined")
    party: Mapped[Party] = relationship(lazy="joined")
