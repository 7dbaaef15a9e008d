"""``courtlink demo``: the report of its year reproduces the court's figures, its cases went
through the real stage machine, and a second run changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from server.audit.verify import verify_chain
from server.demo import run_demo
from server.demo_data import DEMO_YEAR, USERS
from server.desk.intake import RECEPTION_CAUSE
from server.docket import due_soon_cases, overdue_cases
from server.models import Base
from server.models.accounts import User
from server.models.desk import DeskCall
from server.models.docket import Case, CaseNumber, DocketEntry
from server.models.sessions import MediationSession
from server.web.keys import SESSIONMAKER, SETTINGS
from tests.docket_helpers import court_today
from tests.helpers import unit
from tests.test_users import api_token

pytestmark = pytest.mark.slow


async def _row_counts(client) -> dict[str, int]:
    async with client.app[SESSIONMAKER]() as db:
        return {
            t.name: int(await db.scalar(select(func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
        }


async def test_demo_reproduces_the_figures_and_is_idempotent(client):
    settings = client.app[SETTINGS]
    lines = await run_demo(settings)
    assert lines[0] == f"courtlink demo: open {settings.public_url}"
    assert "seeded 263 sample cases" in lines[1]
    for username, _role, _office, _name, password in USERS:
        assert any(username in line and password in line for line in lines), username

    # The court's figures, through the API as the demo clerk would read them.
    token = await api_token(client, "clerk", "demo-clerk")
    resp = await client.get(
        f"/api/v1/reports?year={DEMO_YEAR}", headers={"Authorization": f"Bearer {token}"}
    )
    report = await resp.json()
    assert report["pretrial_share"] == 34.32
    assert report["pre_litigation_share"] == 24.81
    assert (report["resources_share"], report["workload_share"]) == (5.0, 51.16)
    assert (report["civil_trial_cases"], report["civil_cases"]) == (169, 258)
    assert report["fast_track_decided"] == 10 and report["fast_track_in_time"] == 9
    assert sum(report["resolved_by_month"]) == 132
    assert report["average_workdays"] is not None
    # The duty desk's year (视频接访): every street office called the center; most calls were
    # answered and joined the case the office had just registered, a few were advice only;
    # some went unanswered and most of those were called back. The desk's own figures.
    desk = report["reception"]
    assert desk["calls"] >= 30 and desk["answered"] >= 15, desk
    assert 0 < desk["became_cases"] < desk["answered"], desk
    assert 0 < desk["answered_within_30s"] < desk["answered"], desk
    assert 0 < desk["missed_called_back"] < desk["missed"], desk
    assert all(r["calls"] > 0 for r in report["reception_by_office"]), report

    async with client.app[SESSIONMAKER]() as db:
        admin = await db.scalar(select(User).where(User.username == "admin"))
    today = court_today(client.app)
    async with unit(client.app, admin) as ctx:
        overdue = await overdue_cases(ctx)
        due = await due_soon_cases(ctx)
        assert len(overdue) == 1 and len(due) == 1
        assert overdue[0].fast_track_deadline < today <= due[0].fast_track_deadline
    async with client.app[SESSIONMAKER]() as db:
        stages = dict(
            (await db.execute(select(Case.stage, func.count()).group_by(Case.stage))).all()
        )
        # Three per street office and the mediator's live one (tests/test_demo_today.py).
        assert stages["intake"] == 3 and stages["pre_litigation_mediation"] == 19
        assert stages["fast_track"] == 2
        # Numbers came from the real numbering: unique, of the year, one per numbered stage.
        numbers = (await db.scalars(select(CaseNumber.number))).all()
        assert len(numbers) == len(set(numbers))
        assert all(n.startswith(f"（{DEMO_YEAR}）晋0303民") for n in numbers)
        tracks = dict(
            (await db.execute(select(CaseNumber.track, func.count()).group_by("track"))).all()
        )
        # 129 cases entered pre-litigation mediation, 169 were filed, 20 confirmed.
        assert tracks == {"民诉前调": 129, "民初": 169, "民特": 20}
        # And each track's numbers run 1..n without a gap.
        seqs = (await db.scalars(select(CaseNumber.seq).where(CaseNumber.track == "民初"))).all()
        assert sorted(seqs) == list(range(1, 170))
        # Every timeline runs forward in time, its moves backdated to their day.
        entries = (
            await db.execute(select(DocketEntry.case_id, DocketEntry.at).order_by(DocketEntry.id))
        ).all()
        assert len(entries) > 300
        last: dict[int, object] = {}
        for case_id, at in entries:
            assert case_id not in last or at >= last[case_id], case_id
            last[case_id] = at
        assert max(at for _c, at in entries) <= datetime.now(UTC)
        # No call is left ringing or live; each answered call's session (ended) belongs to
        # the case it was about, or for advice, to its reception case, withdrawn.
        calls = (await db.scalars(select(DeskCall))).all()
        assert {c.status for c in calls} == {"ended", "missed", "cancelled"}
        reception = (await db.scalars(select(Case).where(Case.cause == RECEPTION_CAUSE))).all()
        assert {c.stage for c in reception} == {"withdrawn"}
        assert len(reception) == sum(c.outcome == "advice" for c in calls)
        for call in calls:
            if call.status == "ended":
                session = await db.get(MediationSession, call.session_id)
                assert session.case_id == call.case_id and session.status == "ended"
                assert session.ended_at > call.answered_at > call.called_at
        report = await verify_chain(db, settings)
        assert report.ok and report.pending == 0 and report.rows > 0, report

    before = await _row_counts(client)
    again = await run_demo(settings)
    assert again[1] == "demo already seeded"
    assert await _row_counts(client) == before


async def test_an_interrupted_seed_is_reported_not_seeded_twice(settings):
    from server.audit import record
    from server.context import Actor, Court
    from server.db import make_engine, make_sessionmaker
    from server.demo import START_ACTION, InterruptedSeed

    engine = make_engine(settings)
    try:
        court = Court.build(settings, make_sessionmaker(engine))
        async with court.unit(Actor.system("demo")) as ctx:
            await record(ctx, START_ACTION, "demo", DEMO_YEAR)
    finally:
        await engine.dispose()
    with pytest.raises(InterruptedSeed, match="interrupted"):
        await run_demo(settings)
