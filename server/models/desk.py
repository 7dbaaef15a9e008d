"""The duty desk (值班): who is on duty each half-day, and the calls street offices place to
the center.

A roster row puts one judge or mediator on duty for the morning or the afternoon of a
working day, in the order they are rung (``position``). A call is one office terminal's
request to speak to the center: it rings the people on duty, one more each
``DESK_RING_SECONDS`` and then the whole center, until someone accepts it, the office gives
up, or it goes unanswered; the office may leave a call-back request. An accepted call is a
live session on a reception case that becomes the resident's intake case during the call,
or is attached to a case already on the docket. Nothing of a call is ever deleted: missed
calls, answer times and outcomes are the reception figures.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.accounts import Office
from server.models.base import Base, UTCDateTime, utcnow


class CallStatus(StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"  # someone accepted: the call is a live session
    ENDED = "ended"  # answered, then over
    MISSED = "missed"  # nobody accepted before the last ring ran out
    CANCELLED = "cancelled"  # the office hung up before anyone accepted


class CallOutcome(StrEnum):
    CASE = "case"  # became an intake case during the call
    ATTACHED = "attached"  # joined to a case already on the docket
    ADVICE = "advice"  # answered; advice only, no case (咨询)


class DutySlot(Base):
    __tablename__ = "duty_slots"
    __table_args__ = (UniqueConstraint("day", "half", "user_id", name="uq_duty_slot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    half: Mapped[str] = mapped_column(String(2))  # am | pm
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)


class DeskCall(Base):
    __tablename__ = "desk_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    caller_id: Mapped[int] = mapped_column(ForeignKey("users.id"))  # the terminal's account
    status: Mapped[str] = mapped_column(String(16), default=CallStatus.RINGING, index=True)
    called_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # The roster the call rings, fixed when it is placed (user ids in ring order): a roster
    # edited mid-call changes the next call, not who this one has already rung.
    roster: Mapped[str] = mapped_column(String(255), default="")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("mediation_sessions.id", ondelete="SET NULL"), default=None
    )
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), default=None
    )
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    callback_phone: Mapped[str | None] = mapped_column(String(32), default=None)
    callback_note: Mapped[str] = mapped_column(String(255), default="")
    callback_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    called_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    called_back_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)

    office: Mapped[Office] = relationship(lazy="joined")

    @property
    def roster_ids(self) -> list[int]:
        return [int(x) for x in self.roster.split(",") if x]
