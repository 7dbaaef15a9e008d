"""Recompute provisional fast-track deadlines once their year's calendar is official.

A deadline counted over a year no official schedule covered yet is stored with
``fast_track_deadline_provisional`` (``server.workdays``). When the year becomes official (a
newer ``chinesecalendar``, or an admin's ``<calendar_dir>/<year>.json``), every case still in
fast-track with such a deadline is counted again from the day it entered fast-track. A
changed deadline or mark leaves a ``deadline`` timeline entry and an audit row. The app runs
this at start (``server.app``) and ``courtlink calendar recompute`` on demand.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from server.context import Context
from server.docket.log import lock_case, log_change
from server.docket.stages import FAST_TRACK_WORKDAYS
from server.models.docket import Case, Stage


@dataclass(frozen=True, slots=True)
class Recomputed:
    case_id: int
    number: str | None
    old: str
    new: str
    provisional: bool


async def recompute_deadlines(ctx: Context) -> list[Recomputed]:
    """Count every open provisional fast-track deadline again on ``ctx.calendar``; the
    changed ones, in case order."""
    ctx.calendar.reload()  # an admin's year file may have been added since
    rows = await ctx.db.scalars(
        select(Case)
        .where(Case.stage == Stage.FAST_TRACK, Case.fast_track_deadline_provisional.is_(True))
        .order_by(Case.id)
    )
    changed: list[Recomputed] = []
    for case in list(rows.unique()):
        await lock_case(ctx, case)  # and reloaded: it may have moved on meanwhile
        if (
            case.stage != Stage.FAST_TRACK
            or case.fast_track_entered_on is None
            or case.fast_track_deadline is None
        ):
            continue
        deadline = ctx.calendar.deadline(case.fast_track_entered_on, FAST_TRACK_WORKDAYS)
        if (deadline.day, deadline.provisional) == (
            case.fast_track_deadline,
            case.fast_track_deadline_provisional,
        ):
            continue
        old = case.fast_track_deadline.isoformat()
        case.fast_track_deadline = deadline.day
        case.fast_track_deadline_provisional = deadline.provisional
        data = {"from": old, "to": deadline.day.isoformat(), "provisional": deadline.provisional}
        await log_change(ctx, case, "deadline", "case.deadline_recompute", data=data)
        changed.append(
            Recomputed(case.id, case.number, old, deadline.day.isoformat(), deadline.provisional)
        )
    await ctx.db.flush()
    return changed
