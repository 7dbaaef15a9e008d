"""Working hours and working days: when a session may be held.

The court's default day is two blocks in the court's time zone, 08:30–12:00 and 14:30–17:30.
That is the schedule Chinese courts and street offices keep (a long midday break, 午休), not
the 09:00–17:00 office day: a session booked across noon would find the street office closed
and the mediator at lunch. A session must fit inside one block of its host's hours (the
default unless the host has their own) on an official working day (``ctx.calendar``, swapped
working weekends included). Rooms and office terminals follow the court's default blocks.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from server.context import Context
from server.errors import Invalid, Term
from server.formatting import zone_name
from server.models.scheduling import WorkingHours
from server.workdays import WorkCalendar

Block = tuple[time, time]
DEFAULT_BLOCKS: tuple[Block, ...] = ((time(8, 30), time(12, 0)), (time(14, 30), time(17, 30)))
MIN_MINUTES = 15
MAX_MINUTES = 240
SLOT_STEP = timedelta(minutes=30)


def parse_blocks(raw: Sequence[Sequence[str]]) -> tuple[Block, ...]:
    """``[["08:30","12:00"], ...]`` to sorted, non-overlapping blocks; Invalid otherwise."""
    blocks: list[Block] = []
    for pair in raw:
        if len(pair) != 2:
            raise Invalid("each block is [start, end] as HH:MM", code="bad_hours")
        try:
            start, end = time.fromisoformat(pair[0]), time.fromisoformat(pair[1])
        except ValueError:
            raise Invalid("times are HH:MM, e.g. 08:30", code="bad_hours") from None
        if end <= start:
            raise Invalid(
                "block {start}–{end} ends before it starts",
                code="bad_hours",
                values={"start": pair[0], "end": pair[1]},
            )
        blocks.append((start, end))
    blocks.sort()
    for (_, end), (start, _) in itertools.pairwise(blocks):
        if start < end:
            raise Invalid("working-hour blocks overlap", code="bad_hours")
    if not blocks:
        raise Invalid("give at least one block of working hours", code="bad_hours")
    return tuple(blocks)


def format_blocks(blocks: Iterable[Block]) -> list[list[str]]:
    return [[s.strftime("%H:%M"), e.strftime("%H:%M")] for s, e in blocks]


async def hours_for(ctx: Context, user_ids: Iterable[int]) -> dict[int, tuple[Block, ...]]:
    """Each person's blocks: their own row, else the court's default."""
    ids = list(user_ids)
    out = dict.fromkeys(ids, DEFAULT_BLOCKS)
    if ids:
        rows = await ctx.db.scalars(select(WorkingHours).where(WorkingHours.user_id.in_(ids)))
        for row in rows:
            out[row.user_id] = parse_blocks(row.blocks)
    return out


def block_windows(
    day: date, tz: ZoneInfo, blocks: Iterable[Block]
) -> list[tuple[datetime, datetime]]:
    """The blocks of one local day as UTC intervals."""
    return [
        (
            datetime.combine(day, s, tzinfo=tz).astimezone(UTC),
            datetime.combine(day, e, tzinfo=tz).astimezone(UTC),
        )
        for s, e in blocks
    ]


def fits(start: datetime, end: datetime, tz: ZoneInfo, blocks: Iterable[Block]) -> bool:
    day = start.astimezone(tz).date()
    return any(ws <= start and end <= we for ws, we in block_windows(day, tz, blocks))


def check_duration(start: datetime, end: datetime, now: datetime) -> None:
    """Times in the past, end before start, too short or too long: 422 naming which."""
    if end <= start:
        raise Invalid("the session must end after it starts", code="end_before_start")
    if start <= now:
        raise Invalid("the start time is in the past", code="start_in_past")
    minutes = (end - start).total_seconds() / 60
    if minutes < MIN_MINUTES or minutes > MAX_MINUTES:
        raise Invalid(
            "a session lasts {least} minutes to {hours} hours (asked: {asked:g} minutes)",
            code="bad_duration",
            values={"least": MIN_MINUTES, "hours": MAX_MINUTES // 60, "asked": minutes},
        )


def check_working_time(
    calendar: WorkCalendar,
    tz: ZoneInfo,
    start: datetime,
    end: datetime,
    blocks: Iterable[Block] = DEFAULT_BLOCKS,
    who: str | None = None,
) -> None:
    """A working day, and inside one block of ``blocks`` (``who``'s hours, else the court's):
    422 naming the rule otherwise."""
    day = start.astimezone(tz).date()
    if not calendar.is_workday(day):
        raise Invalid(
            "{day} is not a working day", code="non_working_day", values={"day": day.isoformat()}
        )
    blocks = tuple(blocks)
    if not fits(start, end, tz, blocks):
        hours = [f"{s:%H:%M}–{e:%H:%M}" for s, e in blocks]  # joined as the reader's language joins
        raise Invalid(
            "the session must lie within the court's working hours ({hours}, {zone})"
            if who is None
            else "the session must lie within {who}'s working hours ({hours}, {zone})",
            code="outside_working_hours",
            values={"who": who, "hours": hours, "zone": Term(zone_name(tz.key))},
        )


def local_to_utc(value: datetime, tz: ZoneInfo) -> datetime:
    """An input time: naive means the court's zone; stored and compared in UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)
