"""Reading scheduling back: which office's schedule a user sees, bookings visible to a user,
one booking with its invites and delivery state, and the cases still waiting to be booked."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from server import access
from server.accounts import office_by_code
from server.context import Context
from server.docket.parties import latest_consents_many
from server.docket.queries import is_overdue
from server.errors import Forbidden, NotFound
from server.formatting import mask_phone
from server.models.accounts import Office, User
from server.models.docket import Case
from server.models.scheduling import Booking, BookingStatus, OutboxMessage
from server.scheduling.resources import BOOKABLE
from server.scheduling.schemas import (
    BookingInviteOut,
    BookingOut,
    DeliveryOut,
    HostOut,
    WaitingOut,
    local_minute,
)
from server.sessions import invite_token, invite_url, list_invites, party_links


async def office_for(ctx: Context, code: str | None) -> Office:
    """The office asked about, else the user's own; 403 for an office whose schedule the
    user may not see (``server.access.can_schedule_for_office``)."""
    user = ctx.require_user()
    office = (
        await office_by_code(ctx, code, resource=True)
        if code
        else await ctx.db.get(Office, user.office_id)
    )
    assert office is not None
    if not access.can_schedule_for_office(user, office.id):
        raise Forbidden("office staff see their own office's schedule only", code="other_office")
    return office


async def office_scope(ctx: Context, code: str | None) -> int | None:
    """The office a list is limited to: the one asked about, else the user's own where they
    are held to it (``server.access.own_schedule_office``), else None for every office."""
    if not code and access.own_schedule_office(ctx.require_user()) is None:
        return None
    return (await office_for(ctx, code)).id


async def load_booking_for(ctx: Context, booking_id: int) -> Booking:
    """A booking whose case the user may see; 404 otherwise (like cases)."""
    booking = await ctx.db.get(Booking, booking_id)
    if booking is None or not access.can_view_case(ctx.require_user(), booking.case):
        raise NotFound(
            "booking {id} not found", code="booking_not_found", values={"id": booking_id}
        )
    return booking


def day_span(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return (
        datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC),
        datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC),
    )


async def list_bookings(
    ctx: Context,
    first: date,
    last: date,
    *,
    office_id: int | None = None,
    host_id: int | None = None,
    status: str = "active",
) -> list[Booking]:
    """The bookings starting in [first, last] (court-local days) of cases the user may see."""
    start, end = day_span(first, last, ctx.tz)
    query = (
        select(Booking)
        .join(Case, Case.id == Booking.case_id)
        .where(
            access.visible_cases_clause(ctx.require_user()),
            Booking.starts_at >= start,
            Booking.starts_at < end,
        )
    )
    if office_id is not None:
        query = query.where(Booking.office_id == office_id)
    if host_id is not None:
        query = query.where(Booking.host_id == host_id)
    if status != "all":
        query = query.where(Booking.status == status)
    return list(await ctx.db.scalars(query.order_by(Booking.starts_at, Booking.id).limit(1000)))


def host_out(user: User) -> HostOut:
    return HostOut(id=user.id, name=user.display_name, role=user.role)


async def booking_out(ctx: Context, booking: Booking, *, detail: bool = False) -> BookingOut:
    """A booking as the API shows it; with ``detail`` its invites and delivery state too."""
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
        local_start=local_minute(booking.starts_at, ctx.tz),
        local_end=local_minute(booking.ends_at, ctx.tz),
        sequence=booking.sequence,
        uid=booking.uid,
        session_id=booking.session_id,
        note=booking.note,
        cancel_reason=booking.cancel_reason,
    )
    if not detail:
        return out
    # The parties' links go to who may hold them (the sessions API's rule); others see only
    # that they exist.
    show_links = access.can_manage_invites(ctx.require_user(), booking.session)
    for invite, party in party_links(await list_invites(ctx, booking.session)):
        linked = show_links and invite.revoked_at is None
        out.invites.append(
            BookingInviteOut(
                party_id=party.id,
                party_name=party.name,
                url=invite_url(ctx.settings, invite) if linked else None,
                token=invite_token(ctx.settings, invite) if linked else None,
                revoked=invite.revoked_at is not None,
            )
        )
    # The columns, not the rows as objects: a booking's answer lists up to 15 messages, and
    # nothing here changes them.
    rows = await ctx.db.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.purpose,
            OutboxMessage.channel,
            OutboxMessage.role,
            OutboxMessage.recipient,
            OutboxMessage.status,
            OutboxMessage.attempts,
            OutboxMessage.next_attempt_at,
            OutboxMessage.sent_at,
            OutboxMessage.last_error,
        )
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


async def waiting_cases(ctx: Context, office_id: int | None = None) -> list[WaitingOut]:
    """Cases at a bookable stage with no active booking still to come."""
    upcoming = select(Booking.case_id).where(
        Booking.status == BookingStatus.ACTIVE, Booking.ends_at > ctx.now()
    )
    query = select(Case).where(
        access.visible_cases_clause(ctx.require_user()),
        Case.stage.in_(list(BOOKABLE)),
        Case.id.not_in(upcoming),
    )
    if office_id is not None:
        query = query.where(Case.office_id == office_id)
    # The nearest deadline first (an overdue one at the top), on both databases: SQLite would
    # put the cases with no deadline first.
    soonest = Case.fast_track_deadline.asc().nulls_last()
    cases = list(await ctx.db.scalars(query.order_by(soonest, Case.id).limit(500)))
    consents = await latest_consents_many(ctx, [c.id for c in cases])
    today = ctx.today()
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
                fast_track_deadline_provisional=case.fast_track_deadline_provisional,
                overdue=is_overdue(case, today),
                consent_complete=complete,
            )
        )
    return out
