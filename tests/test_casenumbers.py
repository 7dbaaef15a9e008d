"""Case numbers: the court's format, one sequence per year and track, every number kept,
and no duplicate or gap under 50 concurrent numberings."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from alembic import command
from sqlalchemy import select

from server import docket
from server.docket.numbers import format_number
from server.migrate import alembic_config
from server.models.docket import Case, CaseNumber, Stage
from server.web.keys import SETTINGS
from tests.docket_helpers import bearer, load, new_case, session, stop_clock
from tests.helpers import make_user, unit


def test_format() -> None:
    assert format_number(2026, "晋0303", "民诉前调", 17) == "（2026）晋0303民诉前调17号"


async def _move(client, user, case_id, to, today=None):  # type: ignore[no-untyped-def]
    async with unit(client.app, user) as ctx:
        if today is not None:
            stop_clock(ctx, today)
        case = await ctx.db.get(Case, case_id)
        await docket.transition(ctx, case, to)


async def test_numbers_per_track_and_history(client) -> None:
    admin = await make_user(client, "adm", "admin")
    a = await new_case(client, admin)
    b = await new_case(client, admin)
    await _move(client, admin, a, Stage.PRE_LITIGATION_MEDIATION, date(2026, 3, 2))
    await _move(client, admin, b, Stage.PRE_LITIGATION_MEDIATION, date(2026, 3, 2))
    await _move(client, admin, a, Stage.FILED, date(2026, 3, 9))
    case_a = await load(client, a)
    case_b = await load(client, b)
    assert case_b.number == "（2026）晋0303民诉前调2号"
    assert case_a.number == "（2026）晋0303民初1号"
    async with session(client) as db:
        rows = (await db.scalars(select(CaseNumber).where(CaseNumber.case_id == a))).all()
    assert [r.number for r in rows] == ["（2026）晋0303民诉前调1号", "（2026）晋0303民初1号"]


async def test_fifty_concurrent_numberings(client) -> None:
    """50 cases enter pre-litigation mediation at once, each through its own API request
    (its own session and transaction): 50 distinct numbers, 1 to 50, none skipped."""
    admin = await make_user(client, "adm", "admin")
    ids = [await new_case(client, admin) for _ in range(50)]
    h = await bearer(client, "adm")

    async def move(cid: int) -> int:
        resp = await client.post(
            f"/api/v1/cases/{cid}/transitions", json={"to": "pre_litigation_mediation"}, headers=h
        )
        return resp.status

    statuses = await asyncio.gather(*(move(cid) for cid in ids))
    assert statuses == [200] * 50
    async with session(client) as db:
        rows = (await db.scalars(select(CaseNumber))).all()
        numbers = (await db.scalars(select(Case.number))).all()
    assert sorted(r.seq for r in rows) == list(range(1, 51))
    assert len(set(numbers)) == 50 and None not in numbers
    assert {r.track for r in rows} == {"民诉前调"}


async def test_fifty_concurrent_sessions(client) -> None:
    """The same through the domain function with 50 sessions gathered at once."""
    admin = await make_user(client, "adm", "admin")
    ids = [await new_case(client, admin) for _ in range(50)]

    async def move(cid: int) -> None:
        await _move(client, admin, cid, Stage.FILED, date(2026, 12, 1))

    await asyncio.gather(*(move(cid) for cid in ids))
    async with session(client) as db:
        seqs = (await db.scalars(select(CaseNumber.seq).where(CaseNumber.year == 2026))).all()
    assert sorted(seqs) == list(range(1, 51))


async def test_year_is_court_local(client) -> None:
    """Numbers restart each year; the year is the court's, not UTC's: 2026-12-31 16:30 UTC
    is already 2027-01-01 in Asia/Shanghai."""
    admin = await make_user(client, "adm", "admin")
    a = await new_case(client, admin)
    b = await new_case(client, admin)
    await _move(client, admin, a, Stage.FILED, date(2026, 6, 1))
    await _move(client, admin, b, Stage.FILED, datetime(2026, 12, 31, 16, 30, tzinfo=UTC))
    assert (await load(client, b)).number == "（2027）晋0303民初1号"
    assert (await load(client, a)).number == "（2026）晋0303民初1号"


async def test_court_code_from_settings(client) -> None:
    client.app[SETTINGS].court_code = "闽0102"
    admin = await make_user(client, "adm", "admin")
    a = await new_case(client, admin)
    h = await bearer(client, "adm")
    resp = await client.post(f"/api/v1/cases/{a}/transitions", json={"to": "filed"}, headers=h)
    assert "闽0102民初1号" in (await resp.json())["number"]


async def test_a_number_typed_with_ascii_brackets_finds_the_case(client) -> None:
    """A keyboard gives ASCII brackets; the number is written with full-width ones."""
    admin = await make_user(client, "adm", "admin")
    a = await new_case(client, admin)
    await _move(client, admin, a, Stage.FILED, date(2026, 3, 9))
    h = await bearer(client, "adm")
    for typed in ("(2026)晋0303民初1号", "（2026）晋0303民初1号", "(2026)"):
        found = await (await client.get("/api/v1/cases", params={"q": typed}, headers=h)).json()
        assert [c["id"] for c in found["items"]] == [a], typed


async def test_numbers_given_with_ascii_brackets_are_written_again(client) -> None:
    """Migration 0013 rewrites the numbers cases carry, and its downgrade puts them back."""
    admin = await make_user(client, "adm", "admin")
    a = await new_case(client, admin)
    await _move(client, admin, a, Stage.PRE_LITIGATION_MEDIATION, date(2026, 3, 2))
    await _move(client, admin, a, Stage.FILED, date(2026, 3, 9))
    cfg = alembic_config(client.app[SETTINGS])

    async def numbers() -> list[str | None]:
        async with session(client) as db:
            rows = (await db.scalars(select(CaseNumber.number).order_by(CaseNumber.id))).all()
            return [(await db.get(Case, a)).number, *rows]  # type: ignore[union-attr]

    # alembic's env.py runs its own event loop: in a thread, beside this test's.
    await asyncio.to_thread(command.downgrade, cfg, "0013_case_number_brackets@-1")
    assert await numbers() == [
        "(2026)晋0303民初1号",
        "(2026)晋0303民诉前调1号",
        "(2026)晋0303民初1号",
    ]
    await asyncio.to_thread(command.upgrade, cfg, "heads")
    assert await numbers() == [
        "（2026）晋0303民初1号",
        "（2026）晋0303民诉前调1号",
        "（2026）晋0303民初1号",
    ]
