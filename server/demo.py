"""``courtlink demo``: the demo accounts and a year of sample cases, idempotently.

Accounts are created through ``server.accounts`` and cases through ``server.docket``
(create_case with the parties' consent, assign, transition), backdated to the day each step
took, so numbers, deadlines, timelines and audit rows are the real ones. The plan is fixed
(``server.demo_data``), and the 2026 report reproduces the court's figures. Some cases stay
in progress, dated from today: at intake, in pre-litigation mediation (three at every street
office and one of the demo mediator's), and two in fast-track (one overdue, one due within a
working day). Those count in the 2026 figures too, which are therefore exact when the demo is
seeded in 2026. Then ``server.demo_today`` sets up the day: sessions booked at every street
office for later today, and the mediator's session live now with its parties' links, printed.
"Today" is the court's clock: the real one, or with ``--today`` (``settings.today``) any day.

Running it again changes nothing: existing accounts are kept (their passwords too), and the
cases are seeded only when the audit log holds no ``demo.seed.start`` row. The seed commits
about every ``COMMIT_S`` seconds, so that a server running beside it is never locked out of
SQLite for long; ``demo.seed`` closes it, and a seed that started but never closed is
reported instead of being seeded twice. The ``demo.seed`` row keeps what the day was set up
with, so a second run prints the same lines.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from server import audit, docket
from server.accounts import add_user
from server.audit.chain import chain_all
from server.auth import hash_password
from server.context import Actor, Clock, Context, Court
from server.db import make_engine, make_sessionmaker
from server.demo_data import (
    ASSIGN,
    DEMO_YEAR,
    FAST,
    FILE,
    LATER,
    LIVE,
    LIVE_OFFICE,
    PRE,
    STREET_OFFICES,
    TODAY,
    USERS,
    WAITING,
    PlannedCase,
    filed_online,
    new_case,
    plan_year,
)
from server.demo_desk import CALL_AFTER, PlannedCall, plan_calls, run_call
from server.demo_today import day_lines, set_the_day
from server.docket.schemas import CaseCreate
from server.models.accounts import Office, User
from server.models.audit import AuditEntry
from server.models.docket import Case, Stage
from server.settings import Settings
from server.workdays import WorkCalendar

START_ACTION, SEED_ACTION = "demo.seed.start", "demo.seed"
COMMIT_S = 1.0  # seconds of seeding per transaction at most (about)
# After each commit on SQLite the seed leaves the write lock free this long: SQLite hands a
# freed lock to whoever asks first, and a writer in another process retries in a back-off
# loop whose longest pause is 100 ms.
PAUSE_S = 0.1


class InterruptedSeed(RuntimeError):
    """An earlier ``courtlink demo`` stopped half-way: the docket holds part of its cases."""


Event = tuple[datetime, int, int]  # when, case index, step index (or one of these two:)
REGISTER, CALL = -1, -2  # the case's registration; the office's call to the desk about it


async def run_demo(
    settings: Settings, *, clock: Clock | None = None, own_process: bool = False
) -> list[str]:
    """Seed the demo (if not yet there) and return the lines to print: URL, logins, and
    what to do today. ``clock``: the court's clock to seed as of (default: the settings',
    ``--today`` included). ``own_process``: nothing else runs on this event loop (the
    ``courtlink demo`` command), so SQLite is called on the loop's own thread
    (``make_engine(inline=True)``): it cuts the seed's wall time by a fifth to a half, but
    a seed beside an app on one loop would wait on that app's lock while holding the loop."""
    engine = make_engine(settings, inline=own_process)
    court = Court.build(settings, make_sessionmaker(engine))
    if clock is not None:
        court.clock = clock
    try:
        async with court.unit(Actor.system("demo")) as ctx:
            users, passwords = await ensure_users(ctx)
            marks = set(
                (
                    await ctx.db.scalars(
                        select(AuditEntry.action).where(
                            AuditEntry.action.in_([START_ACTION, SEED_ACTION])
                        )
                    )
                ).all()
            )
            if marks == {START_ACTION}:
                raise InterruptedSeed(
                    "an earlier `courtlink demo` was interrupted and left part of its cases; "
                    "seed the demo into an empty database"
                )
            count = 0
            if not marks:
                await audit.record(ctx, START_ACTION, "demo", DEMO_YEAR)
                seeder = Seeder(ctx, users)
                count = await seeder.run()
                day = await set_the_day(ctx, users, seeder.by_purpose())
                await audit.record(ctx, SEED_ACTION, "demo", DEMO_YEAR, cases=count, **day)
            await passwords()
            seed = await ctx.db.scalar(select(AuditEntry).where(AuditEntry.action == SEED_ACTION))
            assert seed is not None
            today = await day_lines(ctx, seed.detail)
        # No server's sequencer may run yet: the demo's database leaves fully chained.
        await chain_all(court)
    finally:
        await engine.dispose()
    lines = [f"courtlink demo: open {settings.public_url}"]
    lines.append(f"seeded {count} sample cases of {DEMO_YEAR}" if count else "demo already seeded")
    lines.append("logins (username / password):")
    for username, role, office, name, password in USERS:
        lines.append(f"  {role:<13} {username:<15} / {password:<18} {name} ({office})")
    return lines + today


# Stands for a demo account's password hash while the real one is being made: argon2 does not
# take it for a hash, so nobody can log in with it (``server.auth.verify_password``).
HASH_PENDING = "!pending"


async def ensure_users(ctx: Context) -> tuple[dict[str, User], Callable[[], Awaitable[None]]]:
    """The demo's accounts, made where missing, and what gives the new ones their password
    hashes. A hash is a deliberate fraction of a second of CPU (six of them were a seventh of
    the seed): they are made in one thread, on the other core, while the year is seeded, and
    the accounts keep ``HASH_PENDING`` until then, inside the seed's transactions."""
    names = [username for username, *_ in USERS]
    found = await ctx.db.scalars(select(User).where(User.username.in_(names)))
    users: dict[str, User] = {user.username: user for user in found}
    needed = sorted({password for username, *_, password in USERS if username not in users})
    # The hasher releases the GIL; one thread leaves the seed a core of its own.
    hashing = asyncio.ensure_future(
        asyncio.to_thread(lambda: {p: hash_password(p) for p in needed})
    )
    made: dict[str, str] = {}
    for username, role, office, name, password in USERS:
        user = users.get(username)
        if user is None:
            user = await add_user(
                ctx,
                username=username,
                display_name=name,
                role=role,
                office_code=office,
                password=password,
                password_hash=HASH_PENDING,
            )
            made[username] = password
        users[username] = user

    async def passwords() -> None:
        hashes = await hashing
        for username, password in made.items():
            users[username].password_hash = hashes[password]

    return {username: users[username] for username in names}, passwords


def back_workdays(calendar: WorkCalendar, day: date, count: int) -> date:
    """The working day ``count`` working days before ``day``."""
    while count > 0:
        day -= timedelta(days=1)
        if calendar.is_workday(day):
            count -= 1
    return day


class Seeder:
    """Registers and moves the planned cases through the docket, each step as the person
    who took it and with the clock set to the moment it took place."""

    def __init__(self, ctx: Context, users: dict[str, User]) -> None:
        self.ctx, self.db, self.calendar, self.users = ctx, ctx.db, ctx.calendar, users
        self.rng = random.Random(DEMO_YEAR)
        self.now = ctx.now()
        self.today = ctx.today()
        self.cases: dict[int, Case] = {}
        self.staff: dict[int, tuple[User, User]] = {}  # case index: mediator, judge
        self.planned: list[PlannedCase] = []
        self.calls: dict[int, PlannedCall] = {}

    def by_purpose(self) -> dict[str, list[tuple[str, Case]]]:
        """The in-progress cases in mediation by what they are for on the demo's day, each
        with its office, in plan order."""
        out: dict[str, list[tuple[str, Case]]] = {}
        for i, plan in enumerate(self.planned):
            if plan.purpose:
                out.setdefault(plan.purpose, []).append((plan.office, self.cases[i]))
        return out

    async def run(self) -> int:
        year = plan_year(self.rng, self.calendar)
        planned = self.planned = year + self.in_progress()
        self.calls = plan_calls(year)
        offices = {o.code: o.id for o in (await self.db.scalars(select(Office))).all()}
        events: list[Event] = []
        for i, case in enumerate(planned):
            at = self.when(case.registered, 0)
            events.append((at, i, REGISTER))
            if i in self.calls:
                events.append((at + CALL_AFTER, i, CALL))
            for j, (day, _step) in enumerate(case.steps):
                # Steps on one day follow each other by a quarter of an hour.
                at = max(self.when(day, j + 1), at + timedelta(minutes=15))
                events.append((min(at, self.now - timedelta(minutes=len(case.steps) - j)), i, j))
        clock = asyncio.get_running_loop().time
        pause = self.db.get_bind().dialect.name == "sqlite"
        since = clock()
        # In date order across all cases, so case numbers run in the order of the year.
        for at, i, j in sorted(events):
            if clock() - since >= COMMIT_S:
                await self.db.commit()
                if pause:
                    await asyncio.sleep(PAUSE_S)
                since = clock()
            if j == REGISTER:
                await self.register(i, planned[i], offices[planned[i].office], at)
            elif j == CALL:
                await self.call(i, planned[i], at)
            else:
                await self.step(i, planned[i].steps[j][1], at)
        return len(planned)

    def when(self, day: date, salt: int) -> datetime:
        minutes = 9 * 60 + (hash((day.toordinal(), salt)) % 420)
        local = datetime.combine(day, time(), self.ctx.tz) + timedelta(minutes=minutes)
        return min(local, self.now - timedelta(minutes=30))

    def in_progress(self) -> list[PlannedCase]:
        cal, today, rng = self.calendar, self.today, self.rng
        out: list[PlannedCase] = []
        for back in (0, 1, 2):
            out.append(
                new_case(rng, "intake", None if back == 2 else True, today - timedelta(back))
            )
        # In mediation, both parties agreeing: at every street office one case to book for
        # later today, one for a coming day and one left waiting; and the mediator's case
        # whose session is live now (``server.demo_today``).
        plans = [(code, use) for code in STREET_OFFICES for use in (TODAY, LATER, WAITING)]
        for n, (code, use) in enumerate([*plans, (LIVE_OFFICE, LIVE)]):
            case = new_case(rng, "pre_open", True, back_workdays(cal, today, 3 + n % 8))
            case.office, case.purpose = code, use
            case.mediator = "mediator" if use == LIVE else ""
            case.steps = [(case.registered, ASSIGN), (cal.next_workday(case.registered), PRE)]
            out.append(case)
        # Fast-track entered 8 working days ago (overdue), and on the latest day whose
        # deadline is today or the next working day (due within one working day).
        overdue = back_workdays(cal, today, 8)
        due = today if cal.is_workday(today) else back_workdays(cal, today, 1)
        while cal.add_workdays(due, 5) > cal.next_workday(today):
            due = back_workdays(cal, due, 1)
        for entered in (overdue, due):
            case = new_case(rng, "fast_open", False, back_workdays(cal, entered, 3))
            filed = back_workdays(cal, entered, 1)
            case.steps = [(case.registered, ASSIGN), (filed, FILE), (entered, FAST)]
            out.append(case)
        return out

    async def register(self, i: int, plan: PlannedCase, office_id: int, at: datetime) -> None:
        center = plan.office == "center"
        online = filed_online(i, plan.office)
        # An online submission has no user: the resident files it from the public form.
        user = None if online else self.users["clerk" if center else f"staff.{plan.office}"]
        data = CaseCreate.model_validate(
            {
                "cause": plan.cause,
                "facts": plan.facts,
                "claim_fen": plan.claim_fen,
                "parties": plan.parties,
            }
        )
        source = "online" if online else "court" if center else "office"
        case = await docket.create_case(
            self.as_of(user, at), data, office_id=office_id, source=source
        )
        self.cases[i] = case
        two = i % 2 == 0
        self.staff[i] = (
            self.users[plan.mediator or ("mediator" if two else "mediator2")],
            self.users["judge" if i % 3 else "judge2"],
        )

    async def step(self, i: int, step: tuple[str, str, str, tuple[int, int]], at: datetime) -> None:
        stage, role, note, _gaps = step
        case = self.cases[i]
        mediator, judge = self.staff[i]
        if stage == "assign":
            clerk = self.users["clerk"]
            await docket.assign(
                self.as_of(clerk, at),
                case,
                mediator_id=mediator.id,
                judge_id=judge.id,
                clerk_id=clerk.id,
            )
            return
        user = {"clerk": self.users["clerk"], "mediator": mediator, "judge": judge}[role]
        await docket.transition(self.as_of(user, at), case, Stage(stage), note=note)

    async def call(self, i: int, plan: PlannedCase, at: datetime) -> None:
        """The office's call to the duty desk after registering case ``i``
        (``server.demo_desk``): its mediator-to-be answers it."""
        office, host = self.users[f"staff.{plan.office}"], self.staff[i][0]
        await run_call(
            self.as_of, self.calls[i], at,
            office=office, host=host, clerk=self.users["clerk"], case=self.cases[i],
        )  # fmt: skip

    def as_of(self, user: User | None, at: datetime) -> Context:
        """The seed's unit of work as ``user`` (the demo itself when None) on a clock stopped
        at ``at``: numbers, deadlines, timeline and audit rows all take that moment."""
        actor = Actor.for_user(user) if user is not None else self.ctx.actor
        # In UTC, as the clock it stands in for: the audit row's hash covers its time as text.
        utc = at.astimezone(UTC)
        return replace(self.ctx.acting_as(actor), clock=lambda: utc)
