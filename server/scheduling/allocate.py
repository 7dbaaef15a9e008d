"""Choosing and holding the resources of a booking: the host, a terminal, a room, the case.

``choose`` picks what is free (the chosen host, or the least booked free one that week, ties
and rooms at random so that concurrent bookings seldom reach for the same one);
``hold`` inserts the reservations, and turns PostgreSQL's exclusion violation (SQLSTATE
23P01, a concurrent booking won) into either a second choice or a 409 naming the booking in
the way.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.exc import DBAPIError

from server.context import Context
from server.errors import Conflict
from server.models.accounts import Office, User
from server.models.docket import Case
from server.models.scheduling import (
    Booking,
    BookingStatus,
    Facility,
    Reservation,
    ResourceKind,
    WorkingHours,
)
from server.models.sessions import MediationSession
from server.scheduling.conflicts import conflict
from server.scheduling.hours import (
    DEFAULT_BLOCKS,
    check_working_time,
    fits,
    hours_for,
    parse_blocks,
)
from server.scheduling.resources import HOST_ROLE, busy, case_key, host_by_id, person_key

EXCLUSION_VIOLATION = "23P01"
DEADLOCK_DETECTED = "40P01"
# Tries at holding a choice (PostgreSQL only loses races: on SQLite the write transaction is
# the only writer): each loss sees one more winner, more than the concurrent bookings of one
# hour in one court will ever be.
RACE_TRIES = 6
_RANDOM = random.SystemRandom()
log = logging.getLogger(__name__)


def _monday(ctx: Context, start: datetime) -> datetime:
    """The start of the court's week that holds ``start``."""
    local = start.astimezone(ctx.tz)
    return (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0)


async def _candidates(
    ctx: Context, kind: str, start: datetime, end: datetime, host_id: int | None
) -> tuple[list[User], dict[int, int]]:
    """Who could host, and how many sessions each has that week: the chosen host (working
    then, else a 422), or every active host of the kind whose hours hold the slot.

    Without a chosen host, the hosts, their own hours and their week's bookings come in one
    statement (a booking's statements cost more of the server's CPU than of the database's);
    the week is counted once for the court, through the index on the start, not per host."""
    tz = ctx.tz
    if host_id is not None:
        host = await host_by_id(ctx, kind, host_id)
        blocks = (await hours_for(ctx, [host.id]))[host.id]
        check_working_time(ctx.calendar, tz, start, end, blocks, who=host.display_name)
        return [host], {}
    monday = _monday(ctx, start)
    week = (
        select(Booking.host_id, func.count().label("n"))
        .where(
            Booking.status == BookingStatus.ACTIVE,
            Booking.starts_at >= monday,
            Booking.starts_at < monday + timedelta(days=7),
        )
        .group_by(Booking.host_id)
        .subquery()
    )
    rows = await ctx.db.execute(
        select(User, WorkingHours.blocks, week.c.n)
        .outerjoin(WorkingHours, WorkingHours.user_id == User.id)
        .outerjoin(week, week.c.host_id == User.id)
        .where(User.role == HOST_ROLE[kind], User.active.is_(True))
        .order_by(User.id)
    )
    working, load = [], {}
    for user, own, count in rows.all():
        if fits(start, end, tz, parse_blocks(own) if own is not None else DEFAULT_BLOCKS):
            working.append(user)
            load[user.id] = count or 0
    return working, load


async def _facilities_for(ctx: Context, office: Office) -> tuple[list[Facility], list[Facility]]:
    """The office's active video terminals and the center's active rooms, in one query."""
    rows = await ctx.db.scalars(
        select(Facility)
        .join(Office, Office.id == Facility.office_id)
        .where(
            Facility.active.is_(True),
            or_(
                and_(Facility.kind == ResourceKind.TERMINAL, Facility.office_id == office.id),
                and_(Facility.kind == ResourceKind.ROOM, Office.is_center.is_(True)),
            ),
        )
        .order_by(Facility.id)
    )
    found = list(rows)
    return (
        [f for f in found if f.kind == ResourceKind.TERMINAL],
        [f for f in found if f.kind == ResourceKind.ROOM],
    )


async def _pick_host(
    ctx: Context,
    kind: str,
    working: list[User],
    load: dict[int, int],
    found: dict[str, list[Reservation]],
    chosen: bool,
) -> User:
    """The chosen host if free, else the least booked of the free ones that week."""
    taken = {person_key(h): found[person_key(h)] for h in working}
    if chosen:
        if any(taken.values()):
            raise await conflict(ctx, taken)
        return working[0]
    free = [h for h in working if not taken[person_key(h)]]
    if not free:
        mediation = kind == "mediation"
        if any(taken.values()):
            example = await conflict(ctx, taken)
            raise Conflict(
                "no mediator is free then; e.g. {example}"
                if mediation
                else "no judge is free then; e.g. {example}",
                code=example.code,
                details=example.details,
                values={"example": example},
            )
        raise Conflict(
            "no mediator works at that time" if mediation else "no judge works at that time",
            code="no_host_free",
        )
    least = min(load.get(h.id, 0) for h in free)
    # Ties at random: offices booking the same hour at once would otherwise all reach for
    # the same person, and all but one lose the race and choose again.
    return _RANDOM.choice([h for h in free if load.get(h.id, 0) == least])


async def _pick_facility(
    ctx: Context,
    kind: ResourceKind,
    office: Office,
    rows: list[Facility],
    found: dict[str, list[Reservation]],
) -> Facility:
    if not rows:
        raise Conflict(
            "{office} has no mediation room in use"
            if kind == ResourceKind.ROOM
            else "{office} has no video terminal in use",
            code=f"no_{kind}",
            values={"office": office.name},
        )
    free = [row for row in rows if not found[row.resource]]
    if not free:
        raise await conflict(ctx, {row.resource: found[row.resource] for row in rows})
    # Any free one, at random, for the same reason as a host's ties.
    return _RANDOM.choice(free)


async def _reserve(ctx: Context, booking: Booking, keys: list[str]) -> None:
    """Insert the reservations; a PostgreSQL exclusion violation becomes a named 409, and so
    does a deadlock between two such inserts (a slot_taken: ``hold`` chooses again)."""
    db = ctx.db
    try:
        async with db.begin_nested():
            # One multi-row INSERT: the ORM would insert row by row to learn ids nobody needs.
            span = {"starts_at": booking.starts_at, "ends_at": booking.ends_at, "active": True}
            await db.execute(
                insert(Reservation),
                [{"booking_id": booking.id, "resource": key, **span} for key in keys],
            )
    except DBAPIError as exc:
        # Two transactions inserting overlapping rows each find the other's row when they
        # check the exclusion constraint, and each waits for the other to end: PostgreSQL
        # then aborts one (40P01). Only its savepoint is lost; for it, the race is lost.
        state = getattr(exc.orig, "sqlstate", None)
        if state not in (EXCLUSION_VIOLATION, DEADLOCK_DETECTED):
            raise
        found = await busy(
            ctx, keys, booking.starts_at, booking.ends_at, exclude_booking=booking.id
        )
        if state == DEADLOCK_DETECTED or not any(found.values()):
            # The winner has not committed (or was rolled back meanwhile): still refuse.
            raise Conflict(
                "the slot was taken at the same moment; try again", code="slot_taken"
            ) from None
        raise await conflict(ctx, found) from None


async def choose(
    ctx: Context,
    case: Case,
    kind: str,
    start: datetime,
    end: datetime,
    host_id: int | None,
    exclude: int | None,
) -> tuple[User, Facility, Facility]:
    """The case free, a host (chosen or least booked), a terminal of the case's office and a
    room of the center, all free over [start, end); a named 409 otherwise.

    Everything the booking could take is asked about in one overlap query (a booking is
    dozens of statements, and on this path each costs more in the ORM than in the database);
    refusals come in the same order as ever: the case, the host, the terminal, the room."""
    working, load = await _candidates(ctx, kind, start, end, host_id)
    terminals, rooms = await _facilities_for(ctx, case.office)
    keys = [case_key(case), *(person_key(h) for h in working)]
    keys += [f.resource for f in (*terminals, *rooms)]
    found = await busy(ctx, keys, start, end, exclude_booking=exclude)
    if found[case_key(case)]:
        raise await conflict(ctx, {case_key(case): found[case_key(case)]})
    host = await _pick_host(ctx, kind, working, load, found, host_id is not None)
    terminal = await _pick_facility(ctx, ResourceKind.TERMINAL, case.office, terminals, found)
    room = await _pick_facility(ctx, ResourceKind.ROOM, case.office, rooms, found)
    return host, terminal, room


async def hold(
    ctx: Context,
    booking: Booking,
    session: MediationSession,
    case: Case,
    host_id: int | None,
    picked: tuple[User, Facility, Facility],
) -> None:
    """Reserve what was picked. If a concurrent booking took one of those resources meanwhile
    (PostgreSQL refuses the insert once the winner commits), choose again and try again. No
    lock is taken: a loss means the winner has committed, so the next choice sees what it
    took, and with free rooms and tied hosts chosen at random, two losers seldom collide
    again; a few tries end in a free choice or a real 409 (a chosen host who is now taken, or
    a full slot)."""
    db = ctx.db
    host, terminal, room = picked
    for attempt in range(RACE_TRIES):
        booking.host, booking.room, booking.terminal = host, room, terminal
        session.host_id = host.id
        await db.flush()
        keys = [person_key(host), room.resource, terminal.resource, case_key(case)]
        try:
            await _reserve(ctx, booking, keys)
            return
        except Conflict as exc:
            if exc.code != "slot_taken" or attempt == RACE_TRIES - 1:
                raise
            log.info("booking %s lost a race (%s); choosing again", booking.id, exc.message)
        host, terminal, room = await choose(
            ctx, case, booking.kind, booking.starts_at, booking.ends_at, host_id, booking.id
        )
