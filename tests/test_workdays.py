"""Working-day deadlines on the official calendar across the 2026 Mid-autumn and National Day
holidays and their swapped working weekend, and an admin's override file for a year (the
provisional calendar of a year no schedule covers is tests/test_workdays_provisional.py)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from server import docket
from server.app import create_app
from server.models.docket import Case, Stage
from server.workdays import WorkCalendar
from tests.conftest import _base_settings
from tests.docket_helpers import new_case, session, stop_clock
from tests.helpers import make_user, unit

D = date


def test_official_2026_autumn() -> None:
    cal = WorkCalendar(None)
    assert cal.is_workday(D(2026, 9, 20))  # Sunday, swapped working day
    assert cal.is_workday(D(2026, 10, 10))  # Saturday, swapped working day
    for day in (25, 26, 27):
        assert not cal.is_workday(D(2026, 9, day))  # Mid-autumn
    for day in range(1, 8):
        assert not cal.is_workday(D(2026, 10, day))  # National Day
    assert not cal.is_workday(D(2026, 10, 11))  # an ordinary Sunday


@pytest.mark.parametrize(
    ("start", "deadline"),
    [
        (D(2026, 9, 29), D(2026, 10, 12)),  # Sep 30, Oct 8, 9, 10 (Sat), 12
        (D(2026, 9, 24), D(2026, 10, 9)),  # Sep 28, 29, 30, Oct 8, 9
        (D(2026, 9, 18), D(2026, 9, 24)),  # Sep 20 (Sun), 21, 22, 23, 24
        (D(2026, 10, 1), D(2026, 10, 13)),  # entered on a holiday: Oct 8, 9, 10, 12, 13
        (D(2026, 11, 2), D(2026, 11, 9)),  # an ordinary week
    ],
)
def test_five_working_days(start: date, deadline: date) -> None:
    assert WorkCalendar(None).add_workdays(start, 5) == deadline


async def _fast_track(client, today: date) -> Case:  # type: ignore[no-untyped-def]
    admin = await make_user(client, "admin1", "admin")
    cid = await new_case(client, admin, stage=Stage.FILED)
    async with unit(client.app, admin) as ctx:
        case = await ctx.db.get(Case, cid)
        assert case is not None
        await docket.transition(stop_clock(ctx, today), case, Stage.FAST_TRACK)
    return case


async def test_fast_track_deadline_across_national_day(client) -> None:
    case = await _fast_track(client, D(2026, 9, 29))
    assert case.fast_track_entered_on == D(2026, 9, 29)
    assert case.fast_track_deadline == D(2026, 10, 12)
    viewer = await make_user(client, "judge1", "judge")
    async with unit(client.app, viewer) as ctx:
        # Sep 30: the next working day is Oct 8, so a deadline of Oct 12 is not due soon...
        assert await docket.due_soon_cases(stop_clock(ctx, D(2026, 9, 30))) == []
        # ...on Oct 9 the next working day is the swapped Saturday Oct 10, still not;
        assert await docket.due_soon_cases(stop_clock(ctx, D(2026, 10, 9))) == []
        # on Oct 10 the next working day is Oct 12: due soon.
        due = await docket.due_soon_cases(stop_clock(ctx, D(2026, 10, 10)))
        assert [c.id for c in due] == [case.id]
        assert await docket.overdue_cases(stop_clock(ctx, D(2026, 10, 12))) == []
        overdue = await docket.overdue_cases(stop_clock(ctx, D(2026, 10, 13)))
        assert [c.id for c in overdue] == [case.id]


@pytest.fixture
def override_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "calendar"
    folder.mkdir()
    # An admin's 2026: National Day extended to Oct 8; the swapped weekends kept.
    holidays = [f"2026-10-0{d}" for d in range(1, 9)] + ["2026-09-25"]
    (folder / "2026.json").write_text(
        json.dumps({"holidays": holidays, "workdays": ["2026-09-20", "2026-10-10"]}),
        encoding="utf-8",
    )
    (folder / "2031.json").write_text(json.dumps({"holidays": [], "workdays": []}))
    return folder


@pytest.fixture
async def override_client(aiohttp_client, database_url: str, tmp_path: Path, override_dir: Path):  # type: ignore[no-untyped-def]
    settings = _base_settings(tmp_path / "var", database_url, calendar_dir=override_dir)
    return await aiohttp_client(create_app(settings))


def test_override_file_changes_the_answer(override_dir: Path) -> None:
    cal = WorkCalendar(override_dir)
    assert not cal.is_workday(D(2026, 10, 8))
    assert cal.add_workdays(D(2026, 9, 29), 5) == D(2026, 10, 13)
    # The override is the whole truth for its year: Sep 26 was left out, so it is a
    # Saturday like any other, and Sep 28 is an ordinary Monday.
    assert cal.is_workday(D(2026, 9, 28))
    # A year the package does not know is the admin's once they add it; without the file it
    # is counted provisionally (tests/test_workdays_provisional.py).
    assert cal.add_workdays(D(2031, 3, 7), 1) == D(2031, 3, 10)  # Friday to Monday
    assert cal.source(2031) == "admin" and WorkCalendar(None).source(2031) == "provisional"


async def test_override_through_the_app(override_client) -> None:
    case = await _fast_track(override_client, D(2026, 9, 29))
    assert case.fast_track_deadline == D(2026, 10, 13)


async def test_unknown_year_moves_with_a_provisional_deadline(client) -> None:
    # Before, a year the package did not know refused the move (calendar_unknown); now the
    # deadline is counted on the provisional calendar and marked so.
    case = await _fast_track(client, D(2031, 3, 6))  # Thursday: Mar 7, 10, 11, 12, 13
    async with session(client) as db:
        stored = await db.get(Case, case.id)
        assert stored is not None and stored.stage == Stage.FAST_TRACK
        assert stored.fast_track_deadline == D(2031, 3, 13)
        assert stored.fast_track_deadline_provisional
