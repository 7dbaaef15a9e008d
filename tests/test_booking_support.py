"""Shared set-up for the scheduling tests: a held clock, people, and bookable cases.

No tests here; the scheduling test modules import from it. The clock is the edge of the
outside world (scheduling asks its context's ``ctx.now()``, which reads the court's clock,
``app[COURT].clock``), held on Monday 14 September 2026, 09:00 in Shanghai, so bookings in
September and October 2026 stay in the future whenever the suite runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from server import docket
from server.docket.schemas import CaseCreate, PartyIn
from server.models.accounts import Office, User
from server.models.docket import Case, Stage
from server.web.keys import COURT, SESSIONMAKER
from tests.docket_helpers import PATH_TO, court_admin
from tests.helpers import PASSWORD, PASSWORD_HASH, csrf, unit

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 9, 14, 9, 0, tzinfo=SHANGHAI)


class Clock:
    def __init__(self, at: datetime = START) -> None:
        self.at = at.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at.astimezone(UTC)


def local(day: date, hh: int, mm: int = 0) -> str:
    """An ISO time with the court's offset, as a client would send it."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=SHANGHAI).isoformat()


@dataclass
class World:
    client: TestClient
    clock: Clock
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)

    async def token(self, name: str) -> str:
        if name not in self.tokens:
            # The token endpoint wants a CSRF token today even from API clients; act like a
            # browser once, then drop the cookies so API calls are pure bearer-token calls.
            await self.client.get("/login")
            resp = await self.client.post(
                "/api/v1/auth/token",
                json={"username": name, "password": PASSWORD},
                headers={"X-CSRF-Token": csrf(self.client)},
            )
            assert resp.status == 201, await resp.text()
            self.tokens[name] = (await resp.json())["token"]
            self.client.session.cookie_jar.clear()
        return self.tokens[name]

    async def api(self, name: str | None, method: str, path: str, **kw: Any) -> Any:
        if name:
            headers = {"Authorization": f"Bearer {await self.token(name)}"}
            return await self.client.request(method, "/api/v1" + path, headers=headers, **kw)
        # Anonymous: a browser with a CSRF token but no login, so the answer is about login.
        await self.client.get("/login")
        headers = {"X-CSRF-Token": csrf(self.client)}
        resp = await self.client.request(method, "/api/v1" + path, headers=headers, **kw)
        self.client.session.cookie_jar.clear()
        return resp

    async def book(
        self, name: str | None, case: str, start: str, minutes: int = 60, **extra: Any
    ) -> Any:
        body = {"case_id": self.cases[case].id, "starts_at": start, "duration_minutes": minutes}
        return await self.api(name, "POST", "/scheduling/bookings", json={**body, **extra})


PEOPLE = {
    # username: (role, office, email)
    "staff_shaping": ("office_staff", "shaping", "shaping-staff@office.example"),
    "staff_qiaotou": ("office_staff", "qiaotou", "qiaotou-staff@office.example"),
    "med_wang": ("mediator", "center", "wang@court.example"),
    "med_li": ("mediator", "center", "li@court.example"),
    "judge_zhao": ("judge", "center", "zhao@court.example"),
    "clerk_sun": ("clerk", "center", None),
    "admin": ("admin", "center", None),
}


async def add_case(client: TestClient, office: str, stage: str, *, consents: bool = True) -> Case:
    """A case of ``office`` with two parties, registered and brought to ``stage`` by an admin
    through the domain functions, on the court's clock (so a fast-track deadline counts from
    the clock's day). ``consents=False``: both parties agreed, the case went into mediation,
    and then both withdrew their consent (the only way a mediation case lacks it)."""
    admin = await court_admin(client)
    async with client.app[SESSIONMAKER]() as db:
        office_id = await db.scalar(select(Office.id).where(Office.code == office))
        assert office_id is not None
    async with unit(client.app, admin) as ctx:
        case = await docket.create_case(
            ctx,
            CaseCreate(
                cause="民间借贷纠纷",
                parties=[
                    PartyIn(side="applicant", name="张三", email="zhangsan@example.cn",
                            phone="13800000001", consent=True),
                    PartyIn(side="respondent", name="李四", phone="13800000002", consent=True),
                ],
            ),
            office_id=office_id,
        )  # fmt: skip
        for step in PATH_TO[Stage(stage)]:
            await docket.transition(ctx, case, step)
        if not consents:
            await ctx.db.refresh(case, ["parties"])
            for party in case.parties:
                await docket.record_consent(ctx, case, party.id, False, "不同意调解")
        case_id = case.id
    async with client.app[SESSIONMAKER]() as db:
        stored = await db.get(Case, case_id)
        assert stored is not None
        await db.refresh(stored, ["parties"])
        return stored


async def make_world(client: TestClient, clock: Clock) -> World:
    world = World(client, clock)
    async with client.app[SESSIONMAKER]() as db:
        offices = {o.code: o.id for o in await db.scalars(select(Office))}
        for username, (role, office, email) in PEOPLE.items():
            user = User(
                username=username,
                display_name=username,
                role=role,
                office_id=offices[office],
                email=email,
                password_hash=PASSWORD_HASH,
            )
            db.add(user)
            world.users[username] = user
        await db.commit()
    world.cases["shaping"] = await add_case(client, "shaping", "pre_litigation_mediation")
    assert world.cases["shaping"].number.endswith("晋0303民诉前调1号")  # the year's first
    world.cases["shaping2"] = await add_case(client, "shaping", "pretrial_mediation")
    world.cases["qiaotou"] = await add_case(client, "qiaotou", "pre_litigation_mediation")
    return world


async def start_world(aiohttp_client: Any, app: web.Application) -> World:
    """Hold the clock, start the real app, add the people and cases. Each test module wraps
    this in its own ``world`` fixture."""
    clock = Clock()
    app[COURT].clock = clock
    client = await aiohttp_client(app)
    return await make_world(client, clock)


MONDAY = date(2026, 9, 21)  # a working week after START
