"""The provisional calendar for a year no official schedule covers yet: the statutory holidays
derived from the rules (checked against every year the package knows), the year end into
2027, a year with no official data (2031), and the fast-track, due-soon and overdue flows on
2026-12-28 and 2027-03-01 marked provisional; then the year's official file arrives and the
open deadlines are recounted."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path

import chinese_calendar
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from server import docket
from server.app import create_app
from server.bounds import FIRST_DAY, LAST_DAY
from server.holidays import provisional_holidays, statutory_days
from server.models.audit import AuditEntry
from server.models.docket import Case, DocketEntry, Stage
from server.web.keys import COURT
from server.workdays import OFFICIAL_YEARS, WorkCalendar
from tests.conftest import _base_settings
from tests.docket_helpers import load, new_case, session, stop_clock
from tests.helpers import login, make_user, post_form, unit

D = date


@pytest.mark.parametrize("year", range(2020, 2027))
def test_statutory_days_match_the_official_years(year: int) -> None:
    # Every day the rules give is off in the State Council's schedule, under the holiday's
    # own name (or the other holiday's, where the two share the day: 中秋 on 2020-10-01).
    assert year in OFFICIAL_YEARS
    names = {n for _, n in statutory_days(year)}
    for day, name in statutory_days(year):
        off, official = chinese_calendar.get_holiday_detail(day)
        assert off, (day, name)
        assert official == name or official in names, (day, name, official)


def test_statutory_days_follow_the_lunar_calendar() -> None:
    days = dict(statutory_days(2026))
    assert days[D(2026, 2, 16)] == days[D(2026, 2, 19)] == "Spring Festival"  # 除夕 to 初三
    assert days[D(2026, 4, 5)] == "Tomb-sweeping Day"
    assert days[D(2026, 5, 2)] == "Labour Day"
    assert days[D(2026, 6, 19)] == "Dragon Boat Festival"  # 五月初五
    assert days[D(2026, 9, 25)] == "Mid-autumn Festival"  # 八月十五
    assert len(days) == 13  # 1 + 4 + 1 + 2 + 1 + 1 + 3


def test_year_end_into_a_provisional_year() -> None:
    cal = WorkCalendar(None)
    assert cal.source(2026) == "official" and cal.source(2027) == "provisional"
    # 2027-01-01 is a Friday and New Year's Day: the next working day after 12-31 is Monday.
    assert cal.next_workday(D(2026, 12, 31)) == D(2027, 1, 4)
    assert cal.is_provisional(D(2027, 1, 4)) and not cal.is_provisional(D(2026, 12, 31))
    deadline = cal.deadline(D(2026, 12, 28), 5)  # Dec 29, 30, 31, Jan 4, 5
    assert (deadline.day, deadline.provisional) == (D(2027, 1, 5), True)
    inside = cal.deadline(D(2026, 12, 21), 5)  # all in 2026: official
    assert (inside.day, inside.provisional) == (D(2026, 12, 28), False)
    # Spring Festival 2027: 除夕 Feb 5 (Fri), 初一–初三 Feb 6–8; the weekend two made up.
    off = provisional_holidays(2027)
    assert [d.day for d in sorted(off) if d.month == 2] == [5, 8, 9, 10]
    assert not cal.is_workday(D(2027, 2, 10)) and cal.is_workday(D(2027, 2, 11))
    # No swapped working weekends are guessed: every weekend day of 2027 is off.
    weekend = [D.fromordinal(D(2027, 1, 1).toordinal() + n) for n in range(365)]
    assert not any(cal.is_workday(d) for d in weekend if d.weekday() >= 5)


def test_a_year_with_no_official_data() -> None:
    cal = WorkCalendar(None)
    assert cal.is_provisional_year(2031)
    assert cal.provisional_years([2026, 2031, 2027]) == [2027, 2031]
    # 中秋 is October 1 in 2031: the shared day is made up after the National Day block.
    assert [d.day for d in sorted(provisional_holidays(2031)) if d.month == 10] == [1, 2, 3, 6]
    assert cal.add_workdays(D(2031, 9, 30), 1) == D(2031, 10, 7)
    assert cal.workdays_between(D(2031, 3, 6), D(2031, 3, 13)) == 5
    # Beyond the lunar table the solar holidays still hold and nothing fails.
    assert not cal.is_workday(D(2150, 10, 1)) and cal.next_workday(D(2200, 12, 31)) == D(2201, 1, 2)


def test_every_court_year_has_a_calendar() -> None:
    # server.bounds: court dates run 1900–2200; no year end, no deadline fails.
    cal = WorkCalendar(None)
    for year in range(FIRST_DAY.year, LAST_DAY.year + 1):
        assert cal.next_workday(D(year, 12, 31)).year == year + 1
        assert cal.deadline(D(year, 9, 28), 5).day > D(year, 10, 3)


def test_an_admin_file_is_authoritative(tmp_path: Path) -> None:
    (tmp_path / "2027.json").write_text(json.dumps({"holidays": ["2027-01-04"], "workdays": []}))
    cal = WorkCalendar(tmp_path)
    assert cal.source(2027) == "admin" and not cal.is_provisional_year(2027)
    # Jan 1 is no holiday in this file, Jan 4 is: Dec 29, 30, 31, Jan 1, 5.
    deadline = cal.deadline(D(2026, 12, 28), 5)
    assert (deadline.day, deadline.provisional) == (D(2027, 1, 5), False)


def test_a_year_file_added_counts_within_a_second(tmp_path: Path) -> None:
    """The running server looks for a year's file again once a second, not once per day it
    counts: a file added (or removed) counts from the next look."""
    clock = [100.0]
    cal = WorkCalendar(tmp_path, monotonic=lambda: clock[0])
    assert cal.is_provisional_year(2028) and not cal.is_workday(D(2028, 1, 3))  # 元旦 补假
    (tmp_path / "2028.json").write_text(json.dumps({"holidays": ["2028-01-03"], "workdays": []}))
    assert cal.source(2028) == "provisional"  # not looked for again within the second
    clock[0] += WorkCalendar.RECHECK_S
    assert cal.source(2028) == "admin" and not cal.is_workday(D(2028, 1, 3))
    assert cal.is_workday(D(2028, 1, 4))
    (tmp_path / "2028.json").unlink()
    clock[0] += WorkCalendar.RECHECK_S
    assert cal.source(2028) == "provisional"


def set_clock(client: TestClient, day: date) -> None:
    """The whole app as of court-local noon on ``day`` (pages and API alike)."""
    court = client.app[COURT]
    moment = datetime.combine(day, time(12), court.settings.tz).astimezone(UTC)
    court.clock = lambda: moment


async def as_of(client: TestClient, day: date, username: str) -> None:
    """``username`` logged in on ``day`` (a session from days before has expired by then)."""
    set_clock(client, day)
    await login(client, username)


async def page(client: TestClient, path: str) -> str:
    resp = await client.get(path, allow_redirects=False)
    assert resp.status == 200, (path, resp.status)
    return await resp.text()


async def _fast_track_by_page(client: TestClient, day: date) -> int:
    admin = await make_user(client, "admin1", "admin")
    cid = await new_case(client, admin, stage=Stage.FILED, on=day)
    await as_of(client, day, "admin1")
    resp = await post_form(client, f"/cases/{cid}/move", {"to": "fast_track"})
    assert resp.status == 200, await resp.text()
    return cid


@pytest.mark.parametrize(
    ("entered", "deadline", "due_on", "overdue_on"),
    [
        (D(2026, 12, 28), D(2027, 1, 5), D(2027, 1, 4), D(2027, 1, 6)),
        (D(2027, 3, 1), D(2027, 3, 8), D(2027, 3, 5), D(2027, 3, 9)),
    ],
)
async def test_fast_track_flows_on_a_provisional_calendar(
    client: TestClient, entered: date, deadline: date, due_on: date, overdue_on: date
) -> None:
    cid = await _fast_track_by_page(client, entered)
    case = await load(client, cid)
    assert case.stage == Stage.FAST_TRACK
    assert (case.fast_track_deadline, case.fast_track_deadline_provisional) == (deadline, True)
    assert "（暂定）" in await page(client, f"/cases/{cid}")
    for day in (entered, due_on, overdue_on):
        await as_of(client, day, "admin1")
        await page(client, "/cases/due-soon")
        await page(client, "/cases?overdue=1")
        assert (await client.get("/api/v1/cases/due-soon")).status == 200
    await as_of(client, due_on, "admin1")
    [item] = await (await client.get("/api/v1/cases/due-soon")).json()
    assert item["fast_track_deadline"] == deadline.isoformat()
    assert item["fast_track_deadline_provisional"] is True
    listing = await page(client, "/cases/due-soon")
    assert f"/cases/{cid}" in listing and deadline.isoformat() in listing
    assert "（暂定）" in listing
    await as_of(client, overdue_on, "admin1")
    [late] = await (await client.get("/api/v1/cases/overdue")).json()
    assert late["id"] == cid and late["overdue"] is True
    assert late["fast_track_deadline_provisional"] is True
    assert f"/cases/{cid}" in await page(client, "/cases?overdue=1")
    # The admin is told which years are provisional and where the year file goes.
    notice = await page(client, "/cases")
    assert "calendar-notice" in notice and "2027.json" in notice


async def test_the_due_soon_list_on_new_years_eve(client: TestClient) -> None:
    judge = await make_user(client, "judge1", "judge")
    async with unit(client.app, judge) as ctx:
        assert await docket.due_soon_cases(stop_clock(ctx, D(2026, 12, 31))) == []
    await as_of(client, D(2026, 12, 31), "judge1")
    listing = await page(client, "/cases/due-soon")
    assert "calendar-notice" not in listing  # the notice is the admin's
    assert "下一个工作日按暂定日历计算" in listing


async def test_recompute_when_the_official_year_arrives(
    aiohttp_client, database_url: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "calendar"
    folder.mkdir()
    settings = _base_settings(tmp_path / "var", database_url, calendar_dir=folder)
    client = await aiohttp_client(create_app(settings))
    admin = await make_user(client, "admin1", "admin")
    cid = await new_case(client, admin, stage=Stage.FAST_TRACK, on=D(2026, 12, 28))
    other = await new_case(client, admin, stage=Stage.FAST_TRACK, on=D(2026, 12, 10))
    case = await load(client, cid)
    assert (case.fast_track_deadline, case.fast_track_deadline_provisional) == (
        D(2027, 1, 5),
        True,
    )
    async with unit(client.app) as ctx:
        assert await docket.recompute_deadlines(ctx) == []  # nothing official yet
    # The State Council's 2027 schedule, as the admin's year file: Jan 1 to 3 off, Jan 4 too.
    holidays = ["2027-01-01", "2027-01-02", "2027-01-03", "2027-01-04"]
    (folder / "2027.json").write_text(json.dumps({"holidays": holidays, "workdays": []}))
    async with unit(client.app) as ctx:
        [changed] = await docket.recompute_deadlines(ctx)
    assert (changed.case_id, changed.old, changed.new) == (cid, "2027-01-05", "2027-01-06")
    assert changed.provisional is False
    case = await load(client, cid)
    assert (case.fast_track_deadline, case.fast_track_deadline_provisional) == (
        D(2027, 1, 6),
        False,
    )
    assert (await load(client, other)).fast_track_deadline == D(2026, 12, 17)
    async with session(client) as db:
        entry = await db.scalar(
            select(DocketEntry).where(DocketEntry.case_id == cid, DocketEntry.kind == "deadline")
        )
        assert entry is not None and entry.data == {
            "from": "2027-01-05",
            "to": "2027-01-06",
            "provisional": False,
        }
        audit = await db.scalar(
            select(AuditEntry).where(AuditEntry.action == "case.deadline_recompute")
        )
        assert audit is not None
    async with unit(client.app) as ctx:
        assert await docket.recompute_deadlines(ctx) == []  # done once
    await as_of(client, D(2026, 12, 29), "admin1")
    text = await page(client, f"/cases/{cid}")
    assert "重新计算期限" in text and "2027-01-05 → 2027-01-06" in text


async def test_recompute_runs_at_start(aiohttp_client, database_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "calendar"
    folder.mkdir()
    settings = _base_settings(tmp_path / "var", database_url, calendar_dir=folder)
    first = await aiohttp_client(create_app(settings))
    admin = await make_user(first, "admin1", "admin")
    cid = await new_case(first, admin, stage=Stage.FAST_TRACK, on=D(2027, 3, 1))
    (folder / "2027.json").write_text(json.dumps({"holidays": ["2027-03-02"], "workdays": []}))
    second = await aiohttp_client(create_app(settings))  # a restart after the file came
    case = await load(second, cid)
    assert (case.fast_track_deadline, case.fast_track_deadline_provisional) == (
        D(2027, 3, 9),
        False,
    )
    async with session(second) as db:
        case_row = await db.get(Case, cid)
        assert case_row is not None and case_row.version > 1


def test_the_recompute_command(database_url: str, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from server.cli import build_parser
    from server.context import Actor, Court
    from server.db import make_engine, make_sessionmaker
    from server.docket.schemas import CaseCreate
    from server.models.accounts import Office, User
    from tests.docket_helpers import parties

    folder = tmp_path / "calendar"
    folder.mkdir()
    settings = _base_settings(tmp_path / "var", database_url, calendar_dir=folder)

    async def fast_track() -> None:
        engine = make_engine(settings)
        try:
            court = Court.build(settings, make_sessionmaker(engine))
            async with court.unit(Actor.system("test")) as ctx:
                office = await ctx.db.scalar(select(Office).where(Office.code == "center"))
                assert office is not None
                admin = User(
                    username="admin1", display_name="admin1", role="admin",
                    office_id=office.id, password_hash="x",
                )  # fmt: skip
                ctx.db.add(admin)
                await ctx.db.flush()
                ctx.actor = Actor.for_user(admin)
                stop_clock(ctx, D(2026, 12, 28))
                case = await docket.create_case(
                    ctx, CaseCreate(cause="借款合同纠纷", parties=parties()), office_id=office.id
                )
                for stage in (Stage.FILED, Stage.FAST_TRACK):
                    await docket.transition(ctx, case, stage)
        finally:
            await engine.dispose()

    asyncio.run(fast_track())
    holidays = ["2027-01-01", "2027-01-04"]
    (folder / "2027.json").write_text(json.dumps({"holidays": holidays, "workdays": []}))
    args = build_parser().parse_args(["calendar", "recompute"])
    assert args.func(args, settings) == 0
    out = capsys.readouterr().out
    assert "deadline 2027-01-05 -> 2027-01-06" in out and "1 open fast-track" in out
    assert args.func(args, settings) == 0
    assert "0 open fast-track deadline(s) recomputed" in capsys.readouterr().out
