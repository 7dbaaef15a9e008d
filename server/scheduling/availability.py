"""Free slots for an office: when a session of a given length could start, and who could
host it.

A slot is free when the office has a free video terminal, the center a free mediation room,
and at least one host (the chosen one, or any mediator / judge) works then and is not booked.
Slots start every 30 minutes inside the court's working blocks on working days. All
reservations of the range are read in one indexed query, then matched in memory, so the
answer costs the same with 100,000 past bookings as with none.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from server.context import Context
from server.errors import Invalid
from server.models.accounts import Office, User
from server.models.scheduling import Reservation, ResourceKind
from server.scheduling.hours import (
    DEFAULT_BLOCKS,
    MAX_MINUTES,
    MIN_MINUTES,
    SLOT_STEP,
    Block,
    block_windows,
    fits,
    hours_for,
)
from server.scheduling.resources import facilities, host_by_id, hosts, person_key

MAX_DAYS = 31
Interval = tuple[datetime, datetime]


@dataclass
class Slot:
    starts_at: datetime
    ends_at: datetime
    hosts: list[User]


@dataclass
class Day:
    day: date
    working: bool
    slots: list[Slot] = field(default_factory=list)


def _free(intervals: list[Interval], start: datetime, end: datetime) -> bool:
    return not any(s < end and start < e for s, e in intervals)


async def _taken(
    ctx: Context, keys: list[str], start: datetime, end: datetime
) -> dict[str, list[Interval]]:
    out: dict[str, list[Interval]] = defaultdict(list)
    rows = await ctx.db.execute(
        select(Reservation.resource, Reservation.starts_at, Reservation.ends_at).where(
            Reservation.resource.in_(keys),
            Reservation.active.is_(True),
            Reservation.starts_at < end,
            Reservation.starts_at > start - timedelta(minutes=MAX_MINUTES),  # see resources.busy
            Reservation.ends_at > start,
        )
    )
    for resource, s, e in rows.all():
        out[resource].append((s, e))
    return out


def _week_loads(taken: dict[str, list[Interval]], tz: ZoneInfo) -> dict[tuple[str, date], int]:
    """(resource, Monday) -> reservations that week."""
    out: dict[tuple[str, date], int] = defaultdict(int)
    for key, intervals in taken.items():
        for start, _ in intervals:
            local = start.astimezone(tz).date()
            out[(key, local - timedelta(days=local.weekday()))] += 1
    return out


async def find_slots(
    ctx: Context,
    office: Office,
    first: date,
    last: date,
    minutes: int,
    kind: str,
    host_id: int | None = None,
) -> list[Day]:
    """Every day of [first, last] with the slots of ``minutes`` still to come (after
    ``ctx.now()``) and who could host each; a 422 for a range or length out of bounds."""
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise Invalid(
            "a session lasts {least} to {most} minutes",
            code="bad_duration",
            values={"least": MIN_MINUTES, "most": MAX_MINUTES},
        )
    if last < first:
        raise Invalid("the range ends before it starts", code="end_before_start")
    if (last - first).days >= MAX_DAYS:
        raise Invalid(
            "ask for at most {days} days at once", code="range_too_long", values={"days": MAX_DAYS}
        )
    if office.is_center:
        raise Invalid("the center books for the street offices; pick one", code="not_an_office")
    tz, now = ctx.tz, ctx.now()
    people = [await host_by_id(ctx, kind, host_id)] if host_id else await hosts(ctx, kind)
    hours: dict[int, tuple[Block, ...]] = await hours_for(ctx, [p.id for p in people])
    terminals = [f.resource for f in await facilities(ctx, ResourceKind.TERMINAL, office.id)]
    center = await ctx.db.scalar(select(Office.id).where(Office.is_center.is_(True)))
    rooms = [f.resource for f in await facilities(ctx, ResourceKind.ROOM, center)]
    # Whole weeks, so "least booked this week" counts the days outside the range too.
    week_start = first - timedelta(days=first.weekday())
    week_end = last + timedelta(days=7 - last.weekday())
    span_start = datetime.combine(week_start, time(0), tzinfo=tz).astimezone(UTC)
    span_end = datetime.combine(week_end, time(0), tzinfo=tz).astimezone(UTC)
    keys = [person_key(p) for p in people] + terminals + rooms
    taken = await _taken(ctx, keys, span_start, span_end)
    loads = _week_loads(taken, tz)
    step = SLOT_STEP
    length = timedelta(minutes=minutes)
    days: list[Day] = []
    day = first
    while day <= last:
        out = Day(day, ctx.calendar.is_workday(day))
        days.append(out)
        day += timedelta(days=1)
        if not out.working:
            continue
        for block_start, block_end in block_windows(out.day, tz, DEFAULT_BLOCKS):
            start = block_start
            while start + length <= block_end:
                end = start + length
                slot_start, start = start, start + step
                if slot_start <= now:
                    continue
                if not any(_free(taken.get(t, []), slot_start, end) for t in terminals):
                    continue
                if not any(_free(taken.get(r, []), slot_start, end) for r in rooms):
                    continue
                free = [
                    p
                    for p in people
                    if fits(slot_start, end, tz, hours[p.id])
                    and _free(taken.get(person_key(p), []), slot_start, end)
                ]
                if free:
                    monday = out.day - timedelta(days=out.day.weekday())
                    free.sort(key=lambda p: (loads[(person_key(p), monday)], p.id))
                    out.slots.append(Slot(slot_start, end, free))
    return days
