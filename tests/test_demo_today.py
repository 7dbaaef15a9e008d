"""``courtlink demo`` tells the day it is run on (issue 13): every street office has cases
waiting to be booked and a session booked for later today (or, with no working time left
today, on the next working day, and the printed lines say so); one session of the demo
mediator's is live-ready now, its parties' links printed; ``--today`` runs it (and the
server) as of any date, across a year end too; a second run changes nothing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from server import cli
from server.context import Actor, Court, make_clock
from server.db import make_engine, make_sessionmaker
from server.demo import run_demo
from server.demo_data import DEMO_YEAR, OFFICES
from server.desk.roster import HALVES, on_duty
from server.models import Base
from server.models.accounts import Office, User
from server.models.sessions import MediationSession
from server.reports import build_report
from server.scheduling.queries import list_bookings, waiting_cases
from server.sessions import LIVE_STATUSES, verify_invite
from server.settings import Settings, _kept_secret
from tests.conftest import _base_settings

pytestmark = pytest.mark.slow

SHANGHAI = ZoneInfo("Asia/Shanghai")
STREET_OFFICES = [code for code in OFFICES if code != "center"]
PARTY_LINK = re.compile(r"^\s+(\S+): (http\S+/join/(\S+))$")
HOST_LINK = re.compile(r"(http\S+/sessions/(\d+)/join)")


def stopped(local: datetime) -> Callable[[], datetime]:
    utc = local.astimezone(UTC)
    return lambda: utc


async def _row_counts(court: Court) -> dict[str, int]:
    async with court.sessionmaker() as db:
        return {
            t.name: int(await db.scalar(select(func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
        }


async def check_the_day(
    settings: Settings, clock: Callable[[], datetime], lines: list[str], booked_on: date
) -> None:
    """What a newcomer finds as of ``clock``: waiting cases and a session booked on
    ``booked_on`` (after now) at every street office, and the mediator's live session whose
    printed links work."""
    engine = make_engine(settings)
    court = Court.build(settings, make_sessionmaker(engine))
    court.clock = clock
    now = clock()
    try:
        async with court.unit() as ctx:
            db = ctx.db
            offices = {o.code: o for o in (await db.scalars(select(Office))).all()}
            for code in STREET_OFFICES:
                staff = await db.scalar(select(User).where(User.username == f"staff.{code}"))
                assert staff is not None
                as_staff = ctx.acting_as(Actor.for_user(staff))
                waiting = await waiting_cases(as_staff, offices[code].id)
                assert [w for w in waiting if w.consent_complete], code
                rows = await list_bookings(as_staff, booked_on, booked_on)
                assert rows, code
                assert all(b.office_id == offices[code].id for b in rows)
                assert any(b.starts_at > now for b in rows), code
                # And something upcoming after that day, as the dashboard's second list.
                later = await list_bookings(
                    as_staff, booked_on + timedelta(days=1), booked_on + timedelta(days=13)
                )
                assert later, code
            assert f"{booked_on.isoformat()}" in "\n".join(lines)

            # The live-ready session: the mediator's, its window around now, every party's
            # printed link valid, and the staff login to use printed beside it.
            hosts = [m for line in lines for m in HOST_LINK.findall(line)]
            assert len(hosts) == 1, lines
            host_url, sid = hosts[0]
            assert host_url == f"{settings.public_url}/sessions/{sid}/join"
            assert any("mediator / demo-mediator" in line for line in lines), lines
            session = await db.get(MediationSession, int(sid))
            assert session is not None and session.status in LIVE_STATUSES
            host = await db.get(User, session.host_id)
            assert host is not None and host.username == "mediator"
            assert session.starts_at is not None and session.ends_at is not None
            assert session.starts_at <= now < session.ends_at
            links = [m.groups() for line in lines if (m := PARTY_LINK.match(line))]
            assert len(links) == len(session.case.parties) >= 2, lines
            names = set()
            for name, url, token in links:
                assert url.startswith(f"{settings.public_url}/join/")
                invite = await verify_invite(ctx, token)
                assert invite.session_id == session.id and invite.party.name == name
                # A link printed now still works days later.
                assert invite.expires_at >= now + timedelta(days=2)
                names.add(name)
            assert names == {p.name for p in session.case.parties}

            # The duty desk: the demo mediator is on duty first on the booked working day,
            # and the lines say how to try a call from a street office's terminal.
            for half in HALVES:
                duty = await on_duty(ctx, booked_on, half)
                assert [u.username for u in duty][:2] == ["mediator", "mediator2"], half
            assert any("/desk/terminal" in line and "staff.pingtan" in line for line in lines)
    finally:
        await engine.dispose()


async def test_the_demo_tells_the_day_and_a_second_run_changes_nothing(settings):
    # A Monday morning at the end of the demo's year: the in-progress cases count in 2026.
    clock = stopped(datetime(2026, 12, 28, 10, 0, tzinfo=SHANGHAI))
    lines = await run_demo(settings, clock=clock)
    assert "seeded 263 sample cases" in lines[1]
    await check_the_day(settings, clock, lines, date(2026, 12, 28))
    assert any("later today" in line for line in lines), lines

    engine = make_engine(settings)
    court = Court.build(settings, make_sessionmaker(engine))
    court.clock = clock
    try:
        # The court's figures still come out of the year.
        async with court.unit() as ctx:
            report = await build_report(ctx, year=DEMO_YEAR, office=None)
        assert report.pretrial_share == Decimal("34.32")
        assert report.pre_litigation_share == Decimal("24.81")
        assert (report.civil_trial_cases, report.civil_cases) == (169, 258)
        assert report.resolved_by_center == 132
        before = await _row_counts(court)
        again = await run_demo(settings, clock=clock)
        assert await _row_counts(court) == before
    finally:
        await engine.dispose()
    assert "demo already seeded" in again[1]
    # The second run prints the same live session and links.
    assert [line for line in again if "/join" in line] == [
        line for line in lines if "/join" in line
    ]


def _sqlite_settings(tmp_path: Path, sqlite_template: Path, **extra: object) -> Settings:
    data = tmp_path / "var"
    data.mkdir(parents=True, exist_ok=True)
    target = data / "courtlink.sqlite3"
    target.write_bytes(sqlite_template.read_bytes())
    return _base_settings(data, f"sqlite+aiosqlite:///{target}", **extra)


async def test_after_the_working_day_the_sessions_are_on_the_next_working_day(
    tmp_path, sqlite_template
):
    # Friday evening: no working time is left today, and the weekend is off.
    settings = _sqlite_settings(tmp_path, sqlite_template)
    clock = stopped(datetime(2027, 2, 26, 18, 30, tzinfo=SHANGHAI))
    lines = await run_demo(settings, clock=clock)
    await check_the_day(settings, clock, lines, date(2027, 3, 1))
    assert any("next working day" in line and "2027-03-01" in line for line in lines), lines


@pytest.mark.parametrize("day", ["2026-12-28", "2027-03-01"])
def test_courtlink_demo_runs_as_of_any_date(day, tmp_path, monkeypatch, capsys):
    """``courtlink demo --today D``: a fresh data directory seeded as of D (at the real time
    of day), across the year end too, and its printed links work in the server."""
    monkeypatch.chdir(tmp_path)  # no .env of the working tree
    monkeypatch.setenv("COURTLINK_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("COURTLINK_PUBLIC_URL", "http://127.0.0.1:8080")
    monkeypatch.delenv("COURTLINK_SECRET_KEY", raising=False)
    monkeypatch.delenv("COURTLINK_TODAY", raising=False)
    assert cli.main(["demo", "--today", day]) == 0
    out = capsys.readouterr().out
    assert "seeded 263 sample cases" in out
    assert "/sessions/" in out and "/join/" in out
    # As `courtlink serve` on that data directory would, in another process (the key read
    # back from the data directory, not this process's memory): the printed links work.
    _kept_secret.cache_clear()
    settings = Settings(_env_file=None, today=date.fromisoformat(day))  # type: ignore[call-arg]
    assert make_clock(settings)().astimezone(SHANGHAI).date() == date.fromisoformat(day)
    tokens = [m.group(3) for line in out.splitlines() if (m := PARTY_LINK.match(line))]
    assert len(tokens) >= 2

    async def check() -> None:
        engine = make_engine(settings)
        try:
            async with Court.build(settings, make_sessionmaker(engine)).unit() as ctx:
                sid = int(HOST_LINK.findall(out)[0][1])
                for token in tokens:
                    assert (await verify_invite(ctx, token)).session_id == sid
                session = await ctx.db.get(MediationSession, sid)
                assert session is not None and session.starts_at is not None
                assert session.starts_at.astimezone(SHANGHAI).date() == ctx.today()
        finally:
            await engine.dispose()

    asyncio.run(check())


def test_serve_takes_today_too():
    args = cli.build_parser().parse_args(["serve", "--today", "2027-03-01"])
    assert args.today == date(2027, 3, 1)
