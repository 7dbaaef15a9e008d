"""The real server SIGKILLed in a booking burst, then started again (the way of
``tests/kill_helpers.py``): the kill waits for the third accepted booking. Every booking
answered 201 exists exactly once and whole (its session, invites, reservations and mail),
nothing is half-written, and a client retrying what got no answer ends with exactly one
booking per slot; the audit chain and the recordings still verify.

The kill while sealing an agreement is ``tests/test_kills_sealing.py``'s, the kill while the
outbox sends mail ``tests/test_kills_outbox.py``'s.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from server.db import make_engine, make_sessionmaker
from server.models.scheduling import Booking, OutboxMessage, Reservation
from server.models.sessions import Invite, MediationSession
from server.settings import Settings
from server.web.keys import SENDER
from tests.helpers import free_port, served_token
from tests.kill_helpers import Server, assert_verifies
from tests.test_booking_support import Clock, add_case, local, make_world

pytestmark = pytest.mark.slow

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _slots(first: date, count: int) -> list[str]:
    """``count`` one-hour slots in the working blocks from ``first`` on (Monday to Friday)."""
    out: list[str] = []
    day = first
    while len(out) < count:
        if day.weekday() < 5:
            out += [local(day, h, 30) for h in (8, 9, 10, 14, 15, 16)]
        day += timedelta(days=1)
    return out[:count]


def _next_monday() -> date:
    today = datetime.now(SHANGHAI).date()
    return today + timedelta(days=7 - today.weekday())


async def test_sigkill_during_a_booking_burst(
    aiohttp_client: Any, app: web.Application, settings: Settings, tmp_path: Path
) -> None:
    app[SENDER].autostart = False  # the server under test sends; this app only sets up
    client = await aiohttp_client(app)
    await make_world(client, Clock())
    per_office = 15
    slots = _slots(_next_monday(), per_office)
    requests: list[tuple[str, dict[str, Any]]] = []
    for office in ("shaping", "qiaotou"):
        for start in slots:
            case = await add_case(client, office, "pre_litigation_mediation")
            body = {"case_id": case.id, "starts_at": start, "duration_minutes": 60}
            requests.append((f"staff_{office}", body))

    server = Server(settings, free_port(), tmp_path / "server.log")
    await server.start()
    accepted: dict[int, dict[str, Any]] = {}  # booking id -> the request answered 201
    refused: list[tuple[int, dict[str, Any]]] = []
    unanswered: list[tuple[str, dict[str, Any]]] = []
    enough = asyncio.Event()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        tokens = {
            n: await served_token(http, server.url, n) for n in ("staff_shaping", "staff_qiaotou")
        }

        async def book(who: str, body: dict[str, Any]) -> None:
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            try:
                async with http.post(
                    server.url + "/api/v1/scheduling/bookings", json=body, headers=headers
                ) as resp:
                    answer = await resp.json()
                    if resp.status == 201:
                        accepted[answer["id"]] = body
                        if len(accepted) >= 3:
                            enough.set()
                    else:
                        refused.append((resp.status, answer))
            except (TimeoutError, aiohttp.ClientError):
                unanswered.append((who, body))

        burst = [asyncio.create_task(book(who, body)) for who, body in requests]
        await asyncio.wait_for(enough.wait(), 300)
        await server.kill(signal.SIGKILL)
        await asyncio.gather(*burst)
    assert refused == [], refused  # every slot was free: nothing but 201 or no answer
    assert len(accepted) >= 3
    assert unanswered, "the kill landed after the burst; nothing was cut"

    await server.start()
    engine = make_engine(settings)
    maker = make_sessionmaker(engine)
    try:
        async with maker() as db:
            bookings = list(await db.scalars(select(Booking)))
            by_id = {b.id: b for b in bookings}
            # Every booking answered 201 is there, once, as it was asked for.
            for booking_id, body in accepted.items():
                found = by_id.get(booking_id)
                assert found is not None, booking_id
                assert found.case_id == body["case_id"]
                assert found.starts_at == datetime.fromisoformat(str(body["starts_at"]))
            keys = [(b.case_id, b.starts_at) for b in bookings]
            assert len(keys) == len(set(keys)), "a booking was written twice"
            # Whole or not at all: no session, invite, reservation or mail without its booking.
            sessions = await db.scalar(select(func.count()).select_from(MediationSession))
            assert sessions == len(bookings)
            for booking in bookings:
                held = await db.scalar(
                    select(func.count())
                    .select_from(Reservation)
                    .where(Reservation.booking_id == booking.id, Reservation.active)
                )
                assert held == 4, (booking.id, held)
                invites = await db.scalar(
                    select(func.count())
                    .select_from(Invite)
                    .where(Invite.session_id == booking.session_id)
                )
                assert invites == 2, (booking.id, invites)
                mail = await db.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.booking_id == booking.id)
                )
                assert mail, booking.id
    finally:
        await engine.dispose()

    # The client asks again for what got no answer: each slot ends with exactly one booking
    # (201 now, or 409 naming the booking that was committed before the kill).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        tokens = {
            n: await served_token(http, server.url, n) for n in ("staff_shaping", "staff_qiaotou")
        }
        for who, body in unanswered:
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            async with http.post(
                server.url + "/api/v1/scheduling/bookings", json=body, headers=headers
            ) as resp:
                answer = await resp.json()
                assert resp.status in (201, 409), answer
                if resp.status == 409:
                    assert answer["error"]["code"] == "slot_taken", answer
    engine = make_engine(settings)
    maker = make_sessionmaker(engine)
    try:
        async with maker() as db:
            rows = (await db.execute(select(Booking.case_id, Booking.starts_at))).all()
    finally:
        await engine.dispose()
    asked = {(body["case_id"], datetime.fromisoformat(body["starts_at"])) for _, body in requests}
    assert sorted(rows) == sorted(asked)  # every slot once, none twice
    print(f"KILL booking: {len(requests)} asked, {len(accepted)} answered 201 before the kill, "
          f"{len(unanswered)} cut, {len(bookings)} in the database after the restart")  # fmt: skip
    await server.kill(signal.SIGTERM)
    await assert_verifies(server)
