"""The civil case docket: cases, parties, consent records, numbers and the timeline."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.accounts import Office, User
from server.models.base import Base, UTCDateTime, utcnow


class Stage(StrEnum):
    INTAKE = "intake"
    PRE_LITIGATION_MEDIATION = "pre_litigation_mediation"
    FILED = "filed"
    PRETRIAL_MEDIATION = "pretrial_mediation"
    FAST_TRACK = "fast_track"
    MEDIATED = "mediated"
    JUDICIAL_CONFIRMATION = "judicial_confirmation"
    ADJUDICATED = "adjudicated"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    tracking_code: Mapped[str | None] = mapped_column(String(16), unique=True, default=None)
    cause: Mapped[str] = mapped_column(String(128))
    facts: Mapped[str] = mapped_column(Text, default="")
    claim_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    stage: Mapped[str] = mapped_column(String(32), default=Stage.INTAKE, index=True)
    source: Mapped[str] = mapped_column(String(16), default="court")
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    mediator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    judge_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    stage_entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Which paths the case took: the reports count on these, not only on the final stage.
    was_pre_litigation: Mapped[bool] = mapped_column(Boolean, default=False)
    was_filed: Mapped[bool] = mapped_column(Boolean, default=False)
    fast_track_entered_on: Mapped[date | None] = mapped_column(Date, default=None)
    fast_track_deadline: Mapped[date | None] = mapped_column(Date, default=None, index=True)
    # Counted over a year no official schedule covered yet (server.workdays): recomputed by
    # server.docket.deadlines once the year is official.
    fast_track_deadline_provisional: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)

    office: Mapped[Office] = relationship(lazy="joined")
    mediator: Mapped[User | None] = relationship(foreign_keys=[mediator_id], lazy="joined")
    judge: Mapped[User | None] = relationship(foreign_keys=[judge_id], lazy="joined")
    clerk: Mapped[User | None] = relationship(foreign_keys=[clerk_id], lazy="joined")
    parties: Mapped[list[Party]] = relationship(
        back_populates="case", order_by="Party.id", lazy="selectin", cascade="all, delete-orphan"
    )


class Party(Base):
    __tablename__ = "parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    side: Mapped[str] = mapped_column(String(16))  # applicant | respondent
    kind: Mapped[str] = mapped_column(String(16), default="person")  # person | organisation
    name: Mapped[str] = mapped_column(String(128))
    id_number: Mapped[str | None] = mapped_column(String(32), default=None)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    address: Mapped[str | None] = mapped_column(String(255), default=None)
    representative: Mapped[str | None] = mapped_column(String(128), default=None)

    case: Mapped[Case] = relationship(back_populates="parties")


class Consent(Base):
    """A party's recorded answer to "do you agree to mediate?". The latest row counts."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id", ondelete="CASCADE"))
    consents: Mapped[bool] = mapped_column(Boolean)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(String(255), default="")


class DocketEntry(Base):
    """One line of a case's timeline."""

    __tablename__ = "docket_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    kind: Mapped[str] = mapped_column(String(32))
    from_stage: Mapped[str | None] = mapped_column(String(32), default=None)
    to_stage: Mapped[str | None] = mapped_column(String(32), default=None)
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, object] | None] = mapped_column(JSON, default=None)

    actor: Mapped[User | None] = relationship(lazy="joined")


class CaseNumberCounter(Base):
    """The last sequence number handed out per year and track (民诉前调, 民初, 民特)."""

    __tablename__ = "case_number_counters"
    __table_args__ = (UniqueConstraint("year", "track"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    track: Mapped[str] = mapped_column(String(16))
    last: Mapped[int] = mapped_column(Integer, default=0)


class CaseNumber(Base):
    """Every number a case has carried: a case changes number when it changes track."""

    __tablename__ = "case_numbers"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    track: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
