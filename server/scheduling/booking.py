"""Book, move and cancel sessions without ever double-booking a person, room or terminal.

The guarantee is the database's: each booking holds one ``Reservation`` per resource, and
PostgreSQL's exclusion constraint refuses any overlapping active pair (a concurrent loser
gets SQLSTATE 23P01, caught in ``allocate`` and turned into a second choice or a 409 naming
the booking it hit). On SQLite
every transaction is ``BEGIN IMMEDIATE``, so the overlap check below runs with the database
locked and nobody can slip in between. The same check also runs first on PostgreSQL, to pick a
free host, room and terminal and to name conflicts in plain words.

A booking creates the live session (``server.sessions.create_session``), one invite link per
party (``create_party_invites``), a timeline entry and audit rows (``server.docket.log.log_change``,
``server.audit.record``) and its outgoing mail (``server.scheduling.outbox``), all in the
caller's transaction: a refusal leaves nothing behind.

No court-wide lock: the audit rows are appended unchained (``server.audit``), so bookings
of different resources run side by side; two that want the same resource meet at the
exclusion constraint, and the loser chooses again (``allocate.hold``).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from server import audit
from server.access import load_case_for
from server.context import Context
from server.docket.log import log_change
from server.live_access import end_live_access
from server.models.docket import Case
from server.models.scheduling import Booking, BookingStatus
from server.models.sessions import SessionStatus
from server.scheduling import allocate, outbox, rules
from server.scheduling.hours import check_duration, check_working_time
from server.scheduling.resources import release
from server.sessions import (
    create_party_invites,
    create_session,
    invite_url,
    list_invites,
    revoke_invite,
)


def _check_times(ctx: Context, case: Case, kind: str, start: datetime, end: datetime) -> None:
    check_duration(start, end, ctx.now())
    check_working_time(ctx.calendar, ctx.tz, start, end)
    if kind == "hearing":
        rules.check_deadline(case, start, ctx.tz)


async def create_booking(
    ctx: Context,
    case_id: int,
    start: datetime,
    end: datetime,
    host_id: int | None = None,
    note: str = "",
) -> Booking:
    """Book a session of ``case_id`` over [start, end) for the acting user, with its live
    session, one invite per party, the log and the mail; a refusal writes nothing."""
    actor = ctx.require_user()
    case = await load_case_for(ctx.db, actor, case_id)
    rules.check_may_book(ctx, case)
    kind = rules.session_kind(case)
    _check_times(ctx, case, kind, start, end)
    if kind == "mediation":
        await rules.check_consent(ctx, case)
    host, terminal, room = await allocate.choose(ctx, case, kind, start, end, host_id, None)
    session = await create_session(
        ctx, case, kind=kind, starts_at=start, ends_at=end, host_id=host.id
    )
    now = ctx.now()
    # Built with its related rows rather than their ids, so nothing needs reloading for the
    # log and the mail below (``hold`` keeps host, room and terminal in step on a retry).
    booking = Booking(
        case=case,
        office=case.office,
        session=session,
        kind=kind,
        host=host,
        room=room,
        terminal=terminal,
        starts_at=start,
        ends_at=end,
        status=BookingStatus.ACTIVE,
        uid=f"booking-{secrets.token_hex(8)}@courtlink",
        sequence=0,
        note=note,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    ctx.db.add(booking)
    await allocate.hold(ctx, booking, session, case, host_id, (host, terminal, room))
    issued = await create_party_invites(ctx, session)
    links = {party_id: url for party_id, (_invite, url) in issued.items()}
    await _log(ctx, booking, "booked", "booking.create", "")
    await outbox.enqueue(ctx, booking, "request", links)
    return booking


async def move_booking(
    ctx: Context,
    booking: Booking,
    start: datetime,
    end: datetime,
    reason: str,
    host_id: int | None = None,
) -> Booking:
    """Move a booking to [start, end) (and another host, if given), with a reason; the
    parties' links stay the same and everyone is told again."""
    db, settings = ctx.db, ctx.settings
    rules.check_may_change(ctx, booking)
    case = booking.case
    _check_times(ctx, case, booking.kind, start, end)
    old = (booking.starts_at, booking.ends_at, booking.host_id)
    host_id = host_id or booking.host_id  # a move keeps the host unless told otherwise
    host, terminal, room = await allocate.choose(
        ctx, case, booking.kind, start, end, host_id, booking.id
    )
    booking.starts_at, booking.ends_at = start, end
    booking.host_id, booking.room_id, booking.terminal_id = host.id, room.id, terminal.id
    booking.sequence += 1
    booking.updated_at = ctx.now()
    session = booking.session
    session.starts_at, session.ends_at, session.host_id = start, end, host.id
    # Whoever is already in its room (early, or the host being replaced) leaves: the session
    # is at another time now.
    end_live_access(ctx, "moved", session_id=session.id)
    await db.flush()
    await db.refresh(booking)
    text = f"from {old[0].astimezone(ctx.tz):%Y-%m-%d %H:%M}: {reason}"
    await _log(
        ctx,
        booking,
        "booking_moved",
        "booking.move",
        text,
        previous={"starts_at": old[0], "ends_at": old[1], "host_id": old[2]},
        reason=reason,
    )
    await release(ctx, booking)
    await allocate.hold(ctx, booking, session, case, host_id, (host, terminal, room))
    links = {}
    for invite in await list_invites(ctx, session):
        if invite.revoked_at is None:
            # The link must outlive the new end as it outlived the old one.
            invite.expires_at = max(invite.expires_at, end + timedelta(hours=settings.invite_hours))
            if invite.party_id is not None:  # a guest's link is not mailed to the parties
                links[invite.party_id] = invite_url(settings, invite)
    await outbox.supersede(ctx, booking)
    await outbox.enqueue(ctx, booking, "request", links)
    return booking


async def cancel_booking(ctx: Context, booking: Booking, reason: str) -> Booking:
    """Cancel a booking with a reason: its resources are free again, its invite links stop
    working and everyone is told."""
    rules.check_may_change(ctx, booking)
    booking.status = BookingStatus.CANCELLED
    booking.cancel_reason = reason
    booking.sequence += 1
    booking.updated_at = ctx.now()
    booking.session.status = SessionStatus.CANCELLED
    # Before the links are revoked below: everyone hears "cancelled", not "revoked".
    end_live_access(ctx, "cancelled", session_id=booking.session_id)
    await _log(ctx, booking, "booking_cancelled", "booking.cancel", reason, reason=reason)
    await release(ctx, booking)
    for invite in await list_invites(ctx, booking.session):
        await revoke_invite(ctx, invite)
    await ctx.db.flush()
    await outbox.supersede(ctx, booking)
    await outbox.enqueue(ctx, booking, "cancel", {})
    return booking


async def _log(
    ctx: Context, booking: Booking, kind: str, action: str, text: str, **extra: object
) -> None:
    """One timeline entry on the case and one audit row on the booking."""
    tz = ctx.tz
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
    # The timeline shows the new time, where it was moved from and why, in the reader's
    # language: those parts go in its data too, not only in the English text.
    shown: dict[str, Any] = {}
    previous = extra.get("previous")
    if isinstance(previous, dict):
        shown["moved_from"] = f"{previous['starts_at'].astimezone(tz):%Y-%m-%d %H:%M}"
    if extra.get("reason"):
        shown["reason"] = extra["reason"]
    await log_change(
        ctx,
        booking.case,
        kind,
        action,
        text=f"{when} {booking.host.display_name}" + (f"; {text}" if text else ""),
        data={**data, **shown},
    )
    await audit.record(ctx, action, "booking", booking.id, **{**data, **extra})
