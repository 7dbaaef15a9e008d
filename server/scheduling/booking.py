"""Book, move and cancel sessions without ever double-booking a person, room or terminal.

The guarantee is the database's: each booking holds one ``Reservation`` per resource, and
PostgreSQL's exclusion constraint refuses any overlapping active pair (a concurrent loser
gets SQLSTATE 23P01, caught here and turned into a 409 naming the booking it hit). On SQLite
every transaction is ``BEGIN IMMEDIATE``, so the overlap check below runs with the database
locked and nobody can slip in between. The same check also runs first on PostgreSQL, to pick a
free host, room and terminal and to name conflicts in plain words.

A booking creates the live session (``server.sessions.create_session``), one invite link per
party (``create_invite``), a timeline entry and audit rows (``server.docket_log.log_change``,
``server.audit.record``) and its outgoing mail (``server.scheduling.outbox``), all in the
caller's transaction: a refusal leaves nothing behind.

Lock order: ``audit.record`` takes the court-wide audit lock on PostgreSQL, and every path
here writes an audit row (``create_session`` or ``_log``) before it touches reservations, so
two bookings never wait for each other in opposite orders (no deadlock under load).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server import audit
from server.access import load_case_for
from server.appkeys import CALENDAR, DB, SETTINGS
from server.docket_log import log_change
from server.errors import Conflict
from server.models.accounts import Office, User
from server.models.docket import Case
from server.models.scheduling import (
    Booking,
    BookingStatus,
    Facility,
    Reservation,
    ResourceKind,
)
from server.models.sessions import SessionStatus
from server.scheduling import outbox, rules
from server.scheduling.hours import check_duration, check_working_time, fits, hours_for
from server.scheduling.keys import now as clock_now
from server.scheduling.resources import (
    busy,
    case_key,
    facilities,
    host_by_id,
    hosts,
    person_key,
    release,
)
from server.sessions import create_invite, create_session, invite_url, list_invites, revoke_invite

EXCLUSION_VIOLATION = "23P01"


async def _conflict(db: AsyncSession, found: dict[str, list[Reservation]], tz: object) -> Conflict:
    """A 409 that names the booking in the way, and what it holds."""
    resource, rows = next((k, v) for k, v in found.items() if v)
    other = await db.get(Booking, rows[0].booking_id)
    assert other is not None
    kind = resource.split(":", 1)[0]
    what = {
        "mediator": f"mediator {other.host.display_name}",
        "judge": f"judge {other.host.display_name}",
        "room": f"room {other.room.name}",
        "terminal": f"the video terminal of {other.office.name_en}",
        "case": "this case",
    }.get(kind, resource)
    fmt = "%Y-%m-%d %H:%M"
    start = other.starts_at.astimezone(tz).strftime(fmt)  # type: ignore[arg-type]
    end = other.ends_at.astimezone(tz).strftime("%H:%M")  # type: ignore[arg-type]
    return Conflict(
        f"{what} is already booked {start}–{end} by booking {other.id} "
        f"(case {other.case.number or other.case_id}, {other.office.name_en})",
        code="slot_taken",
        details={
            "booking_id": other.id,
            "resource": resource,
            "starts_at": other.starts_at.isoformat(),
            "ends_at": other.ends_at.isoformat(),
        },
    )


async def _bookings_this_week(
    db: AsyncSession, host_ids: list[int], start: datetime, tz: object
) -> dict[int, int]:
    local = start.astimezone(tz)  # type: ignore[arg-type]
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0)
    rows = await db.execute(
        select(Booking.host_id, func.count())
        .where(
            Booking.host_id.in_(host_ids),
            Booking.status == BookingStatus.ACTIVE,
            Booking.starts_at >= monday,
            Booking.starts_at < monday + timedelta(days=7),
        )
        .group_by(Booking.host_id)
    )
    return {host_id: count for host_id, count in rows.all()}


async def _pick_host(
    request: web.Request,
    kind: str,
    start: datetime,
    end: datetime,
    host_id: int | None,
    exclude: int | None,
) -> User:
    """The chosen host if free, else the least booked of the free ones that week."""
    tz = request.app[SETTINGS].tz
    session = _db(request)
    calendar = request.app[CALENDAR]
    if host_id is not None:
        host = await host_by_id(session, kind, host_id)
        blocks = (await hours_for(session, [host.id]))[host.id]
        check_working_time(calendar, tz, start, end, blocks, who=host.display_name)
        found = await busy(session, [person_key(host)], start, end, exclude_booking=exclude)
        if any(found.values()):
            raise await _conflict(session, found, tz)
        return host
    candidates = await hosts(session, kind)
    hours = await hours_for(session, [h.id for h in candidates])
    working = [h for h in candidates if fits(start, end, tz, hours[h.id])]
    found = await busy(
        session, [person_key(h) for h in working], start, end, exclude_booking=exclude
    )
    free = [h for h in working if not found[person_key(h)]]
    if not free:
        role = "mediator" if kind == "mediation" else "judge"
        if any(found.values()):
            conflict = await _conflict(session, found, tz)
            conflict.message = f"no {role} is free then; e.g. {conflict.message}"
            raise conflict
        raise Conflict(f"no {role} works at that time", code="no_host_free")
    load = await _bookings_this_week(session, [h.id for h in free], start, tz)
    return min(free, key=lambda h: (load.get(h.id, 0), h.id))


async def _pick_facility(
    request: web.Request,
    kind: ResourceKind,
    office: Office,
    start: datetime,
    end: datetime,
    exclude: int | None,
) -> Facility:
    db = _db(request)
    center_id = office.id
    if kind == ResourceKind.ROOM:
        center_id = await db.scalar(select(Office.id).where(Office.is_center.is_(True))) or 0
    rows = await facilities(db, kind, center_id)
    if not rows:
        label = "mediation room" if kind == ResourceKind.ROOM else "video terminal"
        raise Conflict(f"{office.name_en} has no active {label}", code=f"no_{kind}")
    found = await busy(db, [f.resource for f in rows], start, end, exclude_booking=exclude)
    for row in rows:
        if not found[row.resource]:
            return row
    raise await _conflict(db, found, request.app[SETTINGS].tz)


def _db(request: web.Request) -> AsyncSession:
    return request[DB]


async def _reserve(db: AsyncSession, booking: Booking, keys: list[str], tz: object) -> None:
    """Insert the reservations; a PostgreSQL exclusion violation becomes a named 409."""
    try:
        async with db.begin_nested():
            db.add_all(
                Reservation(
                    booking_id=booking.id,
                    resource=key,
                    starts_at=booking.starts_at,
                    ends_at=booking.ends_at,
                    active=True,
                )
                for key in keys
            )
            await db.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) != EXCLUSION_VIOLATION:
            raise
        found = await busy(db, keys, booking.starts_at, booking.ends_at, exclude_booking=booking.id)
        if not any(found.values()):  # the winner was rolled back meanwhile; still refuse
            raise Conflict(
                "the slot was taken at the same moment; try again", code="slot_taken"
            ) from None
        raise await _conflict(db, found, tz) from None


async def _check_times(
    request: web.Request, case: Case, kind: str, start: datetime, end: datetime
) -> None:
    settings, calendar = request.app[SETTINGS], request.app[CALENDAR]
    check_duration(start, end, clock_now(request.app))
    check_working_time(calendar, settings.tz, start, end)
    if kind == "hearing":
        rules.check_deadline(case, start, settings.tz)


async def create_booking(
    request: web.Request,
    actor: User,
    case_id: int,
    start: datetime,
    end: datetime,
    host_id: int | None = None,
    note: str = "",
) -> Booking:
    db = _db(request)
    settings = request.app[SETTINGS]
    tz = settings.tz
    case = await load_case_for(db, actor, case_id)
    rules.check_may_book(actor, case)
    kind = rules.session_kind(case)
    await _check_times(request, case, kind, start, end)
    if kind == "mediation":
        await rules.check_consent(db, case)
    found = await busy(db, [case_key(case)], start, end)
    if any(found.values()):
        raise await _conflict(db, found, tz)
    host = await _pick_host(request, kind, start, end, host_id, None)
    terminal = await _pick_facility(request, ResourceKind.TERMINAL, case.office, start, end, None)
    room = await _pick_facility(request, ResourceKind.ROOM, case.office, start, end, None)
    session = await create_session(
        db, actor, case, kind=kind, starts_at=start, ends_at=end, host_id=host.id, request=request
    )
    booking = Booking(
        case_id=case.id,
        office_id=case.office_id,
        session_id=session.id,
        kind=kind,
        host_id=host.id,
        room_id=room.id,
        terminal_id=terminal.id,
        starts_at=start,
        ends_at=end,
        status=BookingStatus.ACTIVE,
        uid=f"booking-{secrets.token_hex(8)}@courtlink",
        sequence=0,
        note=note,
        created_by_id=actor.id,
        created_at=clock_now(request.app),
        updated_at=clock_now(request.app),
    )
    db.add(booking)
    await db.flush()
    keys = [person_key(host), room.resource, terminal.resource, case_key(case)]
    await _reserve(db, booking, keys, tz)
    links = {}
    for party in case.parties:
        _invite, url = await create_invite(db, actor, session, party, request=request)
        links[party.id] = url
    await db.refresh(booking)
    await _log(request, actor, booking, "booked", "booking.create", "")
    await outbox.enqueue(db, settings, booking, "request", links, clock_now(request.app))
    return booking


async def move_booking(
    request: web.Request,
    actor: User,
    booking: Booking,
    start: datetime,
    end: datetime,
    reason: str,
    host_id: int | None = None,
) -> Booking:
    db = _db(request)
    settings = request.app[SETTINGS]
    now = clock_now(request.app)
    rules.check_may_change(actor, booking, now)
    case = booking.case
    await _check_times(request, case, booking.kind, start, end)
    old = (booking.starts_at, booking.ends_at, booking.host_id)
    found = await busy(db, [case_key(case)], start, end, exclude_booking=booking.id)
    if any(found.values()):
        raise await _conflict(db, found, settings.tz)
    host = await _pick_host(
        request, booking.kind, start, end, host_id or booking.host_id, booking.id
    )
    terminal = await _pick_facility(
        request, ResourceKind.TERMINAL, booking.office, start, end, booking.id
    )
    room = await _pick_facility(request, ResourceKind.ROOM, booking.office, start, end, booking.id)
    booking.starts_at, booking.ends_at = start, end
    booking.host_id, booking.room_id, booking.terminal_id = host.id, room.id, terminal.id
    booking.sequence += 1
    booking.updated_at = now
    session = booking.session
    session.starts_at, session.ends_at, session.host_id = start, end, host.id
    await db.flush()
    await db.refresh(booking)
    text = f"from {old[0].astimezone(settings.tz):%Y-%m-%d %H:%M}: {reason}"
    await _log(
        request,
        actor,
        booking,
        "booking_moved",
        "booking.move",
        text,
        previous={"starts_at": old[0], "ends_at": old[1], "host_id": old[2]},
        reason=reason,
    )
    await release(db, booking)
    await _reserve(
        db,
        booking,
        [person_key(host), room.resource, terminal.resource, case_key(case)],
        settings.tz,
    )
    links = {}
    for invite in await list_invites(db, session):
        if invite.revoked_at is None:
            # The link must outlive the new end as it outlived the old one.
            invite.expires_at = max(invite.expires_at, end + timedelta(hours=settings.invite_hours))
            links[invite.party_id] = invite_url(settings, invite)
    await outbox.supersede(db, booking)
    await outbox.enqueue(db, settings, booking, "request", links, now)
    return booking


async def cancel_booking(
    request: web.Request, actor: User, booking: Booking, reason: str
) -> Booking:
    db = _db(request)
    settings = request.app[SETTINGS]
    now = clock_now(request.app)
    rules.check_may_change(actor, booking, now)
    booking.status = BookingStatus.CANCELLED
    booking.cancel_reason = reason
    booking.sequence += 1
    booking.updated_at = now
    booking.session.status = SessionStatus.CANCELLED
    await _log(
        request, actor, booking, "booking_cancelled", "booking.cancel", reason, reason=reason
    )
    await release(db, booking)
    for invite in await list_invites(db, booking.session):
        await revoke_invite(db, actor, invite, request=request)
    await db.flush()
    await outbox.supersede(db, booking)
    await outbox.enqueue(db, settings, booking, "cancel", {}, now)
    return booking


async def _log(
    request: web.Request,
    actor: User,
    booking: Booking,
    kind: str,
    action: str,
    text: str,
    **extra: object,
) -> None:
    """One timeline entry on the case and one audit row on the booking."""
    db = _db(request)
    tz = request.app[SETTINGS].tz
    when = (
        f"{booking.starts_at.astimezone(tz):%Y-%m-%d %H:%M}–{booking.ends_at.astimezone(tz):%H:%M}"
    )
    data: dict[str, Any] = {
        "booking_id": booking.id,
        "session_id": booking.session_id,
        "starts_at": booking.starts_at.isoformat(),
        "ends_at": booking.ends_at.isoformat(),
        "host_id": booking.host_id,
    }
    await log_change(
        db,
        actor,
        booking.case,
        kind,
        action,
        text=f"{when} {booking.host.display_name}" + (f"; {text}" if text else ""),
        data=data,
        request=request,
    )
    await audit.record(db, action, "booking", booking.id, request=request, **{**data, **extra})
