"""Scheduling: rooms and terminals, working hours, bookings, their reservations, the mail
outbox and calendar feeds.

A booking holds one reservation row per resource it occupies ("mediator:12", "judge:3",
"room:2", "terminal:5", "case:40"). On PostgreSQL an exclusion constraint over
``(resource, tstzrange(starts_at, ends_at))`` for active rows makes a double booking
impossible (migration 0004_scheduling); on SQLite the serialized write transaction plus the
overlap check in ``server.scheduling.booking`` does.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.accounts import Office, User
from server.models.base import Base, UTCDateTime, utcnow
from server.models.docket import Case
from server.models.sessions import MediationSession


class ResourceKind(StrEnum):
    ROOM = "room"  # a mediation room at the center: one session at a time
    TERMINAL = "terminal"  # an office's video terminal: one session at a time


class Facility(Base):
    """A room at the center or a video terminal at an office. Persons (mediators, judges) are
    users and need no row here; their working hours live in ``WorkingHours``."""

    __tablename__ = "sched_facilities"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    office: Mapped[Office] = relationship(lazy="joined")

    @property
    def resource(self) -> str:
        return f"{self.kind}:{self.id}"


class WorkingHours(Base):
    """A person's own working hours, when they differ from the court's default blocks."""

    __tablename__ = "sched_working_hours"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # [["08:30", "12:00"], ["14:30", "17:30"]] in the court's time zone.
    blocks: Mapped[list[list[str]]] = mapped_column(JSON)


class BookingStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class Booking(Base):
    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("mediation_sessions.id"))
    kind: Mapped[str] = mapped_column(String(16))  # mediation | hearing
    host_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("sched_facilities.id"))
    terminal_id: Mapped[int] = mapped_column(ForeignKey("sched_facilities.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=BookingStatus.ACTIVE, index=True)
    # iCalendar identity: the UID never changes, SEQUENCE goes up with every move or cancel.
    uid: Mapped[str] = mapped_column(String(128), unique=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(String(500), default="")
    cancel_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(lazy="joined")
    office: Mapped[Office] = relationship(lazy="joined")
    host: Mapped[User] = relationship(foreign_keys=[host_id], lazy="joined")
    room: Mapped[Facility] = relationship(foreign_keys=[room_id], lazy="joined")
    terminal: Mapped[Facility] = relationship(foreign_keys=[terminal_id], lazy="joined")
    session: Mapped[MediationSession] = relationship(lazy="joined")


class Reservation(Base):
    """One resource held by one booking over [starts_at, ends_at)."""

    __tablename__ = "reservations"
    __table_args__ = (Index("ix_reservations_resource_start", "resource", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    resource: Mapped[str] = mapped_column(String(48))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting for its time (reminders) or its next attempt
    SENDING = "sending"  # claimed by a sender until lease_until
    SENT = "sent"
    FAILED = "failed"  # gave up after the last attempt
    SUPERSEDED = "superseded"  # a reminder of a time the booking no longer has


class OutboxMessage(Base):
    """One message to one recipient, written in the transaction of the change it reports."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(
        ForeignKey("bookings.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(16))  # request | cancel | remind_24h | remind_1h
    channel: Mapped[str] = mapped_column(String(8))  # email | sms
    recipient: Mapped[str] = mapped_column(String(254))
    recipient_name: Mapped[str] = mapped_column(String(128), default="")
    role: Mapped[str] = mapped_column(String(16))  # host | office | party
    subject: Mapped[str] = mapped_column(String(255), default="")
    body: Mapped[str] = mapped_column(Text)
    ics: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarFeed(Base):
    """A user's secret feed URL; only the token's SHA-256 is stored. Revoked rows stay."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
