"""The demo's day: what ``courtlink demo`` sets up for the day it runs on, and the lines that
tell a newcomer where to look.

Every street office has cases in pre-litigation mediation waiting to be booked (both parties
agree, so the availability page offers them), one booked by the office's staff for later
today and one for a coming day. A session "later today" is the first free slot after now:
when today has no working time left (evening, a weekend or a holiday), that is on the next
working day with a free slot, and the printed lines say which day. The demo mediator
(``mediator``) has a session live-ready now: opened from its case as the case page does, over
a window from the quarter hour before now to ``LIVE_HOURS`` later, with one invite link per
party. Joining a session is not held to its window; the links work until ``invite_hours``
after its end, so they survive a demo seeded the day before it is shown.

Everything goes through the domain functions the pages and the API use (``find_slots``,
``create_booking``, ``create_session``, ``create_invite``), as the person who would do it.
The seed's audit row keeps what was set up, so a second run prints the same lines and
changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from server.context import Actor, Context
from server.demo_data import LATER, LIVE, TODAY
from server.desk.roster import HALVES, set_duty
from server.models.accounts import Office, User
from server.models.docket import Case
from server.models.scheduling import Booking
from server.models.sessions import MediationSession
from server.scheduling.availability import find_slots
from server.scheduling.booking import create_booking
from server.sessions import (
    LIVE_STATUSES,
    create_invite,
    create_session,
    invite_url,
    list_invites,
    party_links,
)

SESSION_MINUTES = 30
LIVE_HOURS = 4
LOOK_AHEAD_DAYS = 14  # a free slot is always found within two weeks
ROSTER_DAYS = 14  # the duty roster the demo keeps ahead


async def _book_first_free(ctx: Context, office: Office, case: Case, first: date) -> Booking:
    """Book ``case`` into the first free slot from ``first`` on, as the office would."""
    for n in range(LOOK_AHEAD_DAYS):
        day = first + timedelta(days=n)
        # Day by day: the first day with time left is nearly always the first asked.
        found = await find_slots(ctx, office, day, day, SESSION_MINUTES, "mediation")
        if found[0].slots:
            slot = found[0].slots[0]
            return await create_booking(ctx, case.id, slot.starts_at, slot.ends_at)
    raise RuntimeError(f"no free slot for {office.code} within {LOOK_AHEAD_DAYS} days")


async def _open_live(ctx: Context, case: Case) -> MediationSession:
    """The mediator opens a session of ``case`` now and hands out every party's link."""
    now = ctx.now()
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=now.minute % 15)
    session = await create_session(
        ctx, case, kind="mediation", starts_at=start, ends_at=start + timedelta(hours=LIVE_HOURS)
    )
    for party in case.parties:
        await create_invite(ctx, session, party)
    return session


async def set_the_day(
    ctx: Context, users: dict[str, User], cases: dict[str, list[tuple[str, Case]]]
) -> dict[str, Any]:
    """Book and open today's sessions; what to keep in the seed's audit row."""
    offices = {o.code: o for o in (await ctx.db.scalars(select(Office))).all()}
    today: list[int] = []
    later: list[int] = []
    for (code, first), (_code, second) in zip(cases[TODAY], cases[LATER], strict=True):
        staff = ctx.acting_as(Actor.for_user(users[f"staff.{code}"]))
        booking = await _book_first_free(staff, offices[code], first, ctx.today())
        day = booking.starts_at.astimezone(ctx.tz).date()
        today.append(booking.id)
        later.append((await _book_first_free(staff, offices[code], second, day + timedelta(1))).id)
    [(_office, case)] = cases[LIVE]
    live = await _open_live(ctx.acting_as(Actor.for_user(users["mediator"])), case)
    await _duty_roster(ctx.acting_as(Actor.for_user(users["clerk"])), users)
    return {"as_of": ctx.now().isoformat(), "today": today, "later": later, "live": live.id}


async def _duty_roster(ctx: Context, users: dict[str, User]) -> None:
    """The duty desk's roster for the coming two weeks' working days: the demo mediator
    first (so that a newcomer logged in as ``mediator`` is rung at once), then the other
    mediator, then a judge. The offices' registered mail addresses, for the case mailbox."""
    order = [users["mediator"].id, users["mediator2"].id, users["judge2"].id]
    for n in range(ROSTER_DAYS):
        day = ctx.today() + timedelta(days=n)
        if ctx.calendar.is_workday(day):
            for half in HALVES:
                await set_duty(ctx, day, half, order)
    for office in await ctx.db.scalars(select(Office).where(Office.is_center.is_(False))):
        office.email = office.email or f"{office.code}@street.example"


def _office_times(ctx: Context, rows: list[Booking], today: date) -> str:
    return ", ".join(
        f"{b.office.name_zh} "
        + b.starts_at.astimezone(ctx.tz).strftime(
            "%H:%M" if _day(ctx, b) == today else "%m-%d %H:%M"
        )
        for b in rows
    )


def _day(ctx: Context, booking: Booking) -> date:
    return booking.starts_at.astimezone(ctx.tz).date()


async def day_lines(ctx: Context, seed: dict[str, Any]) -> list[str]:
    """The printed lines about the demo's day, from the seed's audit row (nothing for a demo
    seeded before the day was set up)."""
    if "live" not in seed:
        return []
    tz, url = ctx.tz, ctx.settings.public_url.rstrip("/")
    as_of = datetime.fromisoformat(seed["as_of"]).astimezone(tz)
    day = as_of.date()
    lines = [f"the demo's day is {day.isoformat()} (seeded at {as_of:%H:%M}, {tz.key}):"]
    if ctx.today() != day:
        lines.append(f"  (not today: `courtlink serve --today {day.isoformat()}` shows that day)")
    lines.append(
        "  every street office has cases waiting to be booked: log in as its staff "
        f"(e.g. staff.caiwa / demo-office_staff) and open {url}/schedule"
    )
    booked = [b for i in seed["today"] if (b := await ctx.db.get(Booking, i)) is not None]
    days = {_day(ctx, b) for b in booked}
    if days == {day}:
        lines.append(
            f"  booked for later today ({day.isoformat()}): {_office_times(ctx, booked, day)}"
        )
    elif day not in days and len(days) == 1:
        lines.append(
            f"  no working time is left today: booked for the next working day, "
            f"{min(days).isoformat()}: {_office_times(ctx, booked, day)}"
        )
    else:
        lines.append(
            "  booked for later today where time is left, else the next working day: "
            + _office_times(ctx, booked, day)
        )
    upcoming = [b for i in seed["later"] if (b := await ctx.db.get(Booking, i)) is not None]
    lines.append(f"  and upcoming: {_office_times(ctx, upcoming, day)}")
    lines += [
        "the duty desk (值班): in one browser log in as staff.pingtan / demo-office_staff and "
        f"open {url}/desk/terminal, press 呼叫中心; in another log in as mediator / "
        f"demo-mediator (on duty, rung first; mediator2 next): any page rings, {url}/desk "
        "lists the calls",
    ]
    return lines + await _live_lines(ctx, seed["live"], url)


async def _live_lines(ctx: Context, session_id: int, url: str) -> list[str]:
    session = await ctx.db.get(MediationSession, session_id)
    if session is None or session.starts_at is None or session.ends_at is None:
        return []
    tz, case = ctx.tz, session.case
    host = await ctx.db.get(User, session.host_id) if session.host_id else None
    invites = await list_invites(ctx, session)
    start, end = session.starts_at.astimezone(tz), session.ends_at.astimezone(tz)
    lines = [
        f"live now: mediation session {session.id} of case {case.number or case.id} "
        f"({case.cause}), host {host.display_name if host else '-'}, "
        f"{start:%H:%M}–{end:%H:%M}",
        f"  1. log in as mediator / demo-mediator and open {url}/sessions/{session.id}/join",
        "  2. each party opens their link in another browser and enters their name; "
        "the mediator admits them from the lobby:",
    ]
    lines += [f"     {p.name}: {invite_url(ctx.settings, i)}" for i, p in party_links(invites)]
    expires = min(i.expires_at for i in invites)
    if session.status not in LIVE_STATUSES or expires <= ctx.now():
        lines.append(
            "  this session is over and its links no longer work: seed the demo into a new "
            "data directory (COURTLINK_DATA_DIR) for a live one"
        )
    else:
        lines.append(f"  the links work until {expires.astimezone(tz):%Y-%m-%d %H:%M}")
    return lines
