"""Case numbers: the court's format, one sequence per year and track, every number kept,
and no duplicate or gap under 50 concurrent numberings."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from server import docket
from server.appkeys import CALENDAR
from server.casenumbers import format_number
from server.models.docket import Case, CaseNumber, Stage
from tests.docket_helpers import load, new_case, session
from tests.helpers import make_user


def test_format() -> None:
    assert format_number(2026, "晋0303", "民诉前调", 17) == "(2026)晋0303民诉前调17号"


async def _move(client, user, case_id, to, today=None):  # type: ignore[no-untyped-def]
    async with session(client) as db:
        case = await db.get(Case, case_id)
        actor = await db.get(type(user), user.id)
        await docket.transition(
            db, actor, case, to, today=today, calendar=client.app[CALENDAR], request=None
        )
        await db.commit()


async def test_numbers_per_track_and_history(client) -> None:
    admin = await make_user(client, "adm", "admin")
    a = await new_case(client, admin)
    b = await new_case(client, admin)
    await _move(client, admin, a, Stage.PRE_LITIGATION_MEDIATION, date(2026, 3, 2))
    await _move(client, admin, b, Stage.PRE_LITIGATION_MEDIATION, date(2026, 3, 2))
    await _move(client, admin, a, Stage.FILED, date(2026, 3, 9))
    case_a = await load(client, a)
    case_b = await load(client, b)
    assert case_b.number == "(2026)晋0303民诉前调2号"
    assert case_a.number == "(2026)晋0303民初1号"
    async with session(client) as db:
        rows = (await db.scalars(select(CaseNumber).where(CaseNumber.case_id == a))).all()
    assert [r.number for r in rows] == ["(2026)晋0303民诉前调1号", "(2026)晋0303民初1号"]
