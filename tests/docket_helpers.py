"""Helpers for the docket tests: valid ID numbers, and cases set up through the domain
functions (registered, moved to a stage by the table's own moves, assigned)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import docket
from server.context import Context
from server.docket.schemas import CaseCreate, PartyIn
from server.models.accounts import Office, User
from server.models.docket import Case, Stage
from server.web.keys import COURT, SESSIONMAKER
from tests.helpers import PASSWORD, make_user, served_token, unit

_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def resident_id(base17: str = "14030319900307123") -> str:
    """A resident ID number with a correct check digit."""
    total = sum(int(c) * w for c, w in zip(base17, _W, strict=True))
    return base17 + "10X98765432"[total % 11]


PERSON_ID = resident_id()
OTHER_ID = resident_id("11010519851224002")
CREDIT_CODE = "91140303MA0K1234XY"  # a unified social credit code with its check character


@asynccontextmanager
async def session(client: TestClient) -> AsyncIterator[AsyncSession]:
    async with client.app[SESSIONMAKER]() as db:
        yield db


async def office_id(client: TestClient, code: str) -> int:
    async with session(client) as db:
        oid = await db.scalar(select(Office.id).where(Office.code == code))
        assert oid is not None
        return oid


def parties(consent: bool | None = True) -> list[PartyIn]:
    return [
        PartyIn(
            side="applicant", name="张三", id_number=PERSON_ID, phone="13800000001", consent=consent
        ),
        PartyIn(side="respondent", name="李四", id_number=OTHER_ID, consent=consent),
    ]


# How a new case reaches each stage through the product's own moves (written out by hand,
# so a test set up "in stage X" is in a state the product can produce).
PATH_TO: dict[Stage, tuple[Stage, ...]] = {
    Stage.INTAKE: (),
    Stage.PRE_LITIGATION_MEDIATION: (Stage.PRE_LITIGATION_MEDIATION,),
    Stage.FILED: (Stage.FILED,),
    Stage.PRETRIAL_MEDIATION: (Stage.FILED, Stage.PRETRIAL_MEDIATION),
    Stage.FAST_TRACK: (Stage.FILED, Stage.FAST_TRACK),
    Stage.MEDIATED: (Stage.PRE_LITIGATION_MEDIATION, Stage.MEDIATED),
    Stage.JUDICIAL_CONFIRMATION: (
        Stage.PRE_LITIGATION_MEDIATION,
        Stage.MEDIATED,
        Stage.JUDICIAL_CONFIRMATION,
    ),
    Stage.ADJUDICATED: (Stage.FILED, Stage.FAST_TRACK, Stage.ADJUDICATED),
    Stage.WITHDRAWN: (Stage.WITHDRAWN,),
    Stage.CLOSED: (Stage.WITHDRAWN, Stage.CLOSED),
}


async def court_admin(client: TestClient) -> User:
    """The admin a fixture acts as when it sets up cases and sessions the way the court would
    (made once per app, under a name no test uses)."""
    async with session(client) as db:
        found = await db.scalar(select(User).where(User.username == "fixture-admin"))
    return found or await make_user(client, "fixture-admin", "admin")


async def new_case(
    client: TestClient,
    actor: User | None,
    *,
    office: str = "center",
    consent: bool | None = True,
    cause: str = "民间借贷纠纷",
    claim_fen: int = 1234567,
    stage: Stage | str = Stage.INTAKE,
    on: date | datetime | None = None,
    mediator_id: int | None = None,
    judge_id: int | None = None,
    clerk_id: int | None = None,
) -> int:
    """Register a case with two parties as ``actor``, then bring it to ``stage`` by the moves
    of ``PATH_TO`` and assign the people given, all as ``actor`` through the domain functions
    (so the actor must be allowed to: an admin always is). ``on`` stops the clock at that day
    (or moment) for all of it (a fast-track deadline is counted from it)."""
    oid = await office_id(client, office)
    async with unit(client.app, actor) as ctx:
        if on is not None:
            stop_clock(ctx, on)
        case = await docket.create_case(
            ctx,
            CaseCreate(cause=cause, claim_fen=claim_fen, parties=parties(consent)),
            office_id=oid,
        )
        for step in PATH_TO[Stage(stage)]:
            await docket.transition(ctx, case, step)
        if (mediator_id, judge_id, clerk_id) != (None, None, None):
            await docket.assign(
                ctx, case, mediator_id=mediator_id, judge_id=judge_id, clerk_id=clerk_id
            )
    return case.id


def stop_clock(ctx: Context, when: date | datetime) -> Context:
    """Stop ``ctx``'s clock at ``when`` (a date: its court-local noon): how a test acts "as
    of" a day, the way the demo backdates its steps."""
    if not isinstance(when, datetime):
        when = datetime.combine(when, time(12), ctx.tz)
    utc = when.astimezone(UTC)  # as the real clock: the audit row's hash covers it as text
    ctx.clock = lambda: utc
    return ctx


def court_today(app: web.Application) -> date:
    """Today at the court, on the app's clock (deadlines and case-number years are local)."""
    court = app[COURT]
    return court.clock().astimezone(court.settings.tz).date()


async def load(client: TestClient, case_id: int) -> Case:
    async with session(client) as db:
        case = await db.get(Case, case_id)
        assert case is not None
        return case


async def count(client: TestClient, model: Any) -> int:
    async with session(client) as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


ALL_STAGES = list(Stage)


async def bearer(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Authorization headers for ``username``, and no browser cookies left on ``client``. The
    token endpoint currently demands a CSRF token even from API clients (tests.helpers.api_token
    trips on it): ``served_token`` fetches one first."""
    token = await served_token(client.session, str(client.make_url("")), username, password)
    return {"Authorization": f"Bearer {token}"}
