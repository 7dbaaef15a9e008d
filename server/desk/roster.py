"""The duty roster: which judges and mediators answer the street offices' calls, each
half-day of the working calendar, in the order they are rung.

Admins and clerks keep it (``access.can_edit_roster``). A half-day is the court's morning
(before noon, local time) or afternoon. Only working days take a roster: on a day the
calendar says the court is closed nobody is on duty, and a call rings the whole center.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, select

from server import access, audit
from server.context import Context
from server.errors import Forbidden, Invalid
from server.models.accounts import Role, User
from server.models.desk import DutySlot

HALVES = ("am", "pm")
NOON = time(12, 0)
DUTY_ROLES = frozenset({Role.JUDGE, Role.MEDIATOR})
MAX_ON_DUTY = 8  # a half-day's roster; the whole center is rung after it anyway


def half_of(ctx: Context, moment: datetime | None = None) -> tuple[date, str]:
    """The court's day and half-day at ``moment`` (now by default)."""
    local = (moment or ctx.now()).astimezone(ctx.tz)
    return local.date(), "am" if local.time() < NOON else "pm"


async def on_duty(ctx: Context, day: date, half: str) -> list[User]:
    """Who is on duty that half-day, in ring order (active accounts only)."""
    rows = await ctx.db.scalars(
        select(User)
        .join(DutySlot, DutySlot.user_id == User.id)
        .where(DutySlot.day == day, DutySlot.half == half, User.active.is_(True))
        .order_by(DutySlot.position, DutySlot.id)
    )
    return list(rows)


async def on_duty_now(ctx: Context) -> list[User]:
    return await on_duty(ctx, *half_of(ctx))


async def roster_between(
    ctx: Context, start: date, days: int
) -> dict[tuple[date, str], list[User]]:
    """The roster of ``days`` days from ``start``, by (day, half), each in ring order."""
    rows = await ctx.db.execute(
        select(DutySlot, User)
        .join(User, DutySlot.user_id == User.id)
        .where(DutySlot.day >= start, DutySlot.day < start + timedelta(days=days))
        .order_by(DutySlot.day, DutySlot.half, DutySlot.position, DutySlot.id)
    )
    found: dict[tuple[date, str], list[User]] = {}
    for slot, user in rows:
        found.setdefault((slot.day, slot.half), []).append(user)
    return found


async def set_duty(ctx: Context, day: date, half: str, user_ids: list[int]) -> list[User]:
    """Put ``user_ids`` on duty for that half-day, in this ring order, replacing who was."""
    if not access.can_edit_roster(ctx.require_user()):
        raise Forbidden("only clerks and admins keep the duty roster", code="may_not_edit_roster")
    if half not in HALVES:
        raise Invalid("half: am or pm", code="bad_half")
    if not ctx.calendar.is_workday(day):
        raise Invalid(
            "{day} is not a working day: nobody is on duty",
            code="not_a_workday",
            values={"day": day},
        )
    if len(user_ids) > MAX_ON_DUTY:
        raise Invalid(
            "at most {most} people on duty a half-day",
            code="too_many",
            values={"most": MAX_ON_DUTY},
        )
    if len(set(user_ids)) != len(user_ids):
        raise Invalid("someone is named twice", code="duplicate_user")
    people: list[User] = []
    for user_id in user_ids:
        person = await ctx.db.get(User, user_id)
        if person is None or not person.active or person.role not in DUTY_ROLES:
            raise Invalid(
                "user {id} is not an active judge or mediator",
                code="bad_duty_person",
                values={"id": user_id},
            )
        people.append(person)
    await ctx.db.execute(delete(DutySlot).where(DutySlot.day == day, DutySlot.half == half))
    ctx.db.add_all(
        DutySlot(day=day, half=half, user_id=p.id, position=i) for i, p in enumerate(people)
    )
    await audit.record(ctx, "desk.roster", "duty", f"{day}/{half}", user_ids=user_ids)
    await ctx.db.flush()
    return people


async def duty_candidates(ctx: Context) -> list[User]:
    """Everyone who may be put on duty (the roster form's choices)."""
    rows = await ctx.db.scalars(
        select(User)
        .where(User.role.in_(DUTY_ROLES), User.active.is_(True))
        .order_by(User.role, User.display_name)
    )
    return list(rows)
