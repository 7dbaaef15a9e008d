"""Reading scheduling back: bookings visible to a user, one booking with its invites and
delivery state, and the cases still waiting to be booked."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import can_book_case, can_view_case, visible_cases_clause
from server.docket import latest_consents_many
from server.errors import NotFound
from server.formatting import mask_phone
from server.models.accounts import User
from server.models.docket import Case
from server.models.scheduling import Booking, BookingStatus, OutboxMessage
from server.scheduling.resources import BOOKABLE
from server.scheduling.schemas import (
    BookingOut,
    DeliveryOut,
    HostOut,
    InviteOut,
    WaitingOut,
)
from server.sessions import invite_url, list_invites
from server.settings import Settings


async def load_booking_for(db: AsyncSession, user: User, booking_id: int) -> Booking:
    """A booking whose case the user may see; 404 otherwise (like cases)."""
    booking = await db.get(Booking, booking_id)
    if booking is None or not can_view_case(user, booking.case):
        raise NotFound(f"booking {booking_id} not found", code="booking_not_found")
    return booking


def day_span(first: date, last: date, settings: Settings) -> tuple[datetime, datetime]:
    tz = settings.tz
    return (
        datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC),
        datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC),
    )


async def list_bookings(
    db: AsyncSession,
    user: User,
    settings: Settings,
    first: date,
    last: date,
    *,
    office_id: int | None = None,
    host_id: int | None = None,
    status: str = "active",
) -> list[Booking]:
    start, end = day_span(first, last, settings)
    query = (
        select(Booking)
        .join(Case, Case.id == Booking.case_id)
        .where(visible_cases_clause(user), Booking.starts_at >= start, Booking.starts_at < end)
    )
    if office_id is not None:
        query = query.where(Booking.office_id == office_id)
    if host_id is not None:
        query = query.where(Booking.host_id == host_id)
    if status != "all":
        query = query.where(Booking.status == status)
    return list(await db.scalars(query.order_by(Booking.starts_at, Booking.id).limit(1000)))


def _local(value: datetime, settings: Settings, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(settings.tz).strftime(fmt)


def host_out(user: User) -> HostOut:
    return HostOut(id=user.id, name=user.display_name, role=user.role)


async def booking_out(
    db: AsyncSession, user: User, settings: Settings, booking: Booking, *, detail: bool = False
) -> BookingOut:
    out = BookingOut(
        id=booking.id,
        case_id=booking.case_id,
        case_number=booking.case.number,
        cause=booking.case.cause,
        office=booking.office.code,
        kind=booking.kind,
        status=booking.status,
        host=host_out(booking.host),
        room=booking.room.name,
        terminal=booking.terminal.name,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        local_start=_local(booking.starts_at, settings),
        local_end=_local(booking.ends_at, settings),
        sequence=booking.sequence,
        uid=booking.uid,
        session_id=booking.session_id,
        note=booking.note,
        cancel_reason=booking.cancel_reason,
    )
    if not detail:
        return out
    # Invite links are handed to residents by whoever books; others see only that they exist.
    show_links = can_book_case(user, booking.case)
    for invite in await list_invites(db, booking.session):
        out.invites.append(
            InviteOut(
                party_id=invite.party_id,
                party_name=invite.party.name,
                url=invite_url(settings, invite)
                if show_links and invite.revoked_at is None
                else None,
                revoked=invite.revoked_at is not None,
            )
        )
    rows = await db.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.booking_id == booking.id)
        .order_by(OutboxMessage.id)
    )
    for row in rows:
        shown = row.recipient if row.channel == "email" else mask_phone(row.recipient)
        out.deliveries.append(
            DeliveryOut(
                id=row.id,
                purpose=row.purpose,
                channel=row.channel,
                role=row.role,
                recipient=shown,
                status=row.status,
                attempts=row.attempts,
                next_attempt_at=row.next_attempt_at,
                sent_at=row.sent_at,
                last_error=row.last_error,
            )
        )
    return out


async def waiting_cases(
    db: AsyncSession, user: User, now: datetime, office_id: int | None = None
) -> list[WaitingOut]:
    """Cases at a bookable stage with no active booking still to come."""
    upcoming = select(Booking.case_id).where(
        Booking.status == BookingStatus.ACTIVE, Booking.ends_at > now
    )
    query = select(Case).where(
        visible_cases_clause(user),
        Case.stage.in_(list(BOOKABLE)),
        Case.id.not_in(upcoming),
    )
    if office_id is not None:
        query = query.where(Case.office_id == office_id)
    cases = list(await db.scalars(query.order_by(Case.fast_track_deadline, Case.id).limit(500)))
    consents = await latest_consents_many(db, [c.id for c in cases])
    out = []
    for case in cases:
        answers = consents.get(case.id, {})
        complete = bool(case.parties) and all(answers.get(p.id) is True for p in case.parties)
        out.append(
            WaitingOut(
                case_id=case.id,
                number=case.number,
                cause=case.cause,
                stage=case.stage,
                office=case.office.code,
                fast_track_deadline=case.fast_track_deadline,
                consent_complete=complete,
            )
        )
    return out
