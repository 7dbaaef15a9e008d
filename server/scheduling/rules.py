"""The booking rules that depend on the case and on who asks, apart from time conflicts.

Everything here raises before anything is written: the stage (only mediation stages and
fast-track hearings are booked), every party's consent for mediation (``server.docket``'s
``latest_consents``), the fast-track deadline, the host's working hours and the 30-minute
rule for changes (``server.access``).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from server import access
from server.context import Context
from server.docket.parties import latest_consents
from server.docket.stages import stage_term
from server.errors import Conflict, Forbidden
from server.models.docket import Case
from server.models.scheduling import Booking, BookingStatus
from server.scheduling.resources import BOOKABLE


def session_kind(case: Case) -> str:
    kind = BOOKABLE.get(case.stage)
    if kind is None:
        raise Conflict(
            "a case at stage {stage} cannot be booked; sessions are booked for: {allowed}",
            code="stage_not_bookable",
            values={
                "stage": stage_term(case.stage),
                "allowed": [stage_term(stage) for stage in BOOKABLE],
            },
        )
    return kind


async def check_consent(ctx: Context, case: Case) -> None:
    """Mediation only where every party's latest answer is yes (DESIGN.md)."""
    answers = await latest_consents(ctx, case)
    missing = [p.name for p in case.parties if answers.get(p.id) is not True]
    if not case.parties:
        raise Conflict("the case has no parties to invite", code="no_parties")
    if missing:
        raise Conflict(
            "mediation needs every party's recorded consent; missing or refused: {parties}",
            code="consent_missing",
            values={"parties": missing},
        )


def check_deadline(case: Case, start: datetime, tz: ZoneInfo) -> None:
    """A fast-track case is heard on or before its 5th working day."""
    deadline = case.fast_track_deadline
    if deadline is None:
        return
    day = start.astimezone(tz).date()
    if day > deadline:
        raise Conflict(
            "this fast-track case must be heard by {deadline} (5 working days); {day} is too late",
            code="past_deadline",
            values={"deadline": deadline.isoformat(), "day": day.isoformat()},
        )


def check_may_book(ctx: Context, case: Case) -> None:
    if not access.can_book_case(ctx.require_user(), case):
        raise Forbidden("your role may not book sessions for this case", code="may_not_book")


def check_may_change(ctx: Context, booking: Booking) -> None:
    """A booking still to come, changed by whom ``server.access`` allows: whoever may book
    it and its host, and close to the start only court staff."""
    user, now = ctx.require_user(), ctx.now()
    if booking.status != BookingStatus.ACTIVE:
        raise Conflict("this booking has been cancelled", code="booking_cancelled")
    if booking.starts_at <= now:
        raise Conflict("this session has already started", code="booking_started")
    if not access.can_change_booking(user, booking.case, booking.host_id):
        raise Forbidden("you may not change this booking", code="may_not_change")
    minutes = (booking.starts_at - now).total_seconds() / 60
    if minutes < access.LATE_CHANGE_MINUTES and not access.can_change_late(user):
        raise Forbidden(
            "the session starts in less than {minutes} minutes; only court staff may change it now",
            code="too_late_to_change",
            values={"minutes": access.LATE_CHANGE_MINUTES},
        )
