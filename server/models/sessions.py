"""Live sessions (a mediation or a fast-track hearing held by video), their guests and the
invite links that let parties and guests in.

A booking (scheduling) or the case page creates the session record; the signaling server
runs it while it is live; recordings and agreements hang off it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String
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


class GuestRole(StrEnum):
    """Why a guest of joint mediation (联调) is in the session; shown on their tile, in the
    recording's manifest and in the agreement."""

    PEOPLES_MEDIATOR = "peoples_mediator"  # 人民调解员 (司法所)
    POLICE = "police"  # 民警
    LABOUR_INSPECTOR = "labour_inspector"  # 劳动监察员
    INTERPRETER = "interpreter"  # 翻译
    SIGN_INTERPRETER = "sign_interpreter"  # 手语翻译
    OTHER = "other"


# The roles that interpret for one party and so go where that party goes.
INTERPRETERS = frozenset({GuestRole.INTERPRETER, GuestRole.SIGN_INTERPRETER})


class SessionGuest(Base):
    """Someone neither of the court nor a party whom the session's organisers invite: a
    people's mediator, a police officer, a labour inspector, an interpreter.

    A row of its own, beside ``Party``, not columns on ``Invite``: the guest is a person of
    the session's record (the agreement names them, the recording's manifest says who they
    are) whatever becomes of a link; a lost link is replaced by a new ``Invite`` for the
    same guest, and revoking one does not unmake who took part. Their links are ordinary
    ``Invite`` rows (``guest_id`` set instead of ``party_id``), so there is one token, one
    check (``server.sessions.verify_invite``), one revocation and one expiry for everyone who
    comes by a link.
    """

    __tablename__ = "session_guests"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("mediation_sessions.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    organisation: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(24))  # GuestRole
    # An interpreter's party: the interpreter follows them into a caucus room and back.
    serves_party_id: Mapped[int | None] = mapped_column(
        ForeignKey("parties.id", ondelete="SET NULL"), default=None
    )
    # Whether the host lets this guest into caucus (背对背) rooms; the host may change it live.
    may_caucus: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    serves: Mapped[Party | None] = relationship(lazy="joined")


class Invite(Base):
    """A link into one session, for one party or one guest (exactly one of ``party_id`` and
    ``guest_id``). The link carries a signed token naming this row; revoking or expiring the
    row kills the link. Only a party's link opens the party's own routes (the case file,
    the agreement): ``server.sessions.verify_party_invite``."""

    __tablename__ = "invites"
    __table_args__ = (
        CheckConstraint("(party_id IS NULL) <> (guest_id IS NULL)", name="party_or_guest"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("mediation_sessions.id", ondelete="CASCADE"), index=True
    )
    party_id: Mapped[int | None] = mapped_column(
        ForeignKey("parties.id", ondelete="CASCADE"), default=None
    )
    guest_id: Mapped[int | None] = mapped_column(
        ForeignKey("session_guests.id", ondelete="CASCADE"), default=None, index=True
    )
    nonce: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    session: Mapped[MediationSession] = relationship(lazy="joined")
    party: Mapped[Party | None] = relationship(lazy="joined")
    guest: Mapped[SessionGuest | None] = relationship(lazy="joined")

    @property
    def kind(self) -> str:
        """``"party"`` or ``"guest"``: whom the link admits."""
        return "guest" if self.guest_id is not None else "party"
