"""No double booking: 50 simultaneous requests for one slot, through the real app over HTTP,
end in exactly one 201 and 49 409s that name the winning booking, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from server.models.scheduling import Booking, OutboxMessage, Reservation
from server.models.sessions import Invite, MediationSession
from server.web.keys import SESSIONMAKER
from tests.test_booking_support import MONDAY, World, local, start_world


@pytest.fixture
async def world(aiohttp_client, app) -> World:
    return await start_world(aiohttp_client, app)


async def _count(world: World, model) -> int:
    async with world.client.app[SESSIONMAKER]() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def test_fifty_concurrent_requests_for_one_slot(world: World):
    await world.token("staff_shaping")
    mediator = world.users["med_wang"].id
    start = local(MONDAY, 9, 0)

    responses = await asyncio.gather(
        *(world.book("staff_shaping", "shaping", start, 60, host_id=mediator) for _ in range(50))
    )
    statuses = sorted(r.status for r in responses)
    bodies = [await r.json() for r in responses]
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == 49, statuses
    winner = next(b for r, b in zip(responses, bodies, strict=True) if r.status == 201)
    for r, body in zip(responses, bodies, strict=True):
        if r.status == 409:
            assert body["error"]["code"] == "slot_taken", body
            assert body["error"]["details"]["booking_id"] == winner["id"]
            assert f"预约 {winner['id']}" in body["error"]["message"]  # the reader's language
    # Nothing of the 49 losers was written: one booking, one session, its invites and mail.
    assert await _count(world, Booking) == 1
    assert await _count(world, MediationSession) == 1
    assert await _count(world, Invite) == 2
    assert await _count(world, Reservation) == 4
    outbox = await _count(world, OutboxMessage)
    assert outbox > 0
    async with world.client.app[SESSIONMAKER]() as db:
        ids = set(await db.scalars(select(OutboxMessage.booking_id)))
    assert ids == {winner["id"]}


async def test_the_mediator_is_not_bookable_twice_from_two_offices(world: World):
    mediator = world.users["med_wang"].id
    start = local(MONDAY, 10, 0)
    a, b = await asyncio.gather(
        world.book("staff_shaping", "shaping", start, 60, host_id=mediator),
        world.book("staff_qiaotou", "qiaotou", local(MONDAY, 10, 30), 60, host_id=mediator),
    )
    assert sorted([a.status, b.status]) == [201, 409]
    loser = b if b.status == 409 else a
    body = await loser.json()
    assert "调解员med_wang" in body["error"]["message"]


async def test_the_database_itself_refuses_an_overlap(world: World, backend: str):
    """The exclusion constraint, bypassing every check in Python (PostgreSQL's guarantee;
    SQLite's is its serialized write transaction, exercised by the test above)."""
    if backend != "postgres":
        pytest.skip("exclusion constraints are PostgreSQL's; SQLite serializes writers")
    resp = await world.book("staff_shaping", "shaping", local(MONDAY, 14, 30), 60)
    assert resp.status == 201, await resp.text()
    booked = await resp.json()
    async with world.client.app[SESSIONMAKER]() as db:
        held = (
            await db.scalars(select(Reservation).where(Reservation.booking_id == booked["id"]))
        ).first()
        assert held is not None
        db.add(
            Reservation(
                booking_id=booked["id"],
                resource=held.resource,
                starts_at=held.starts_at,
                ends_at=held.ends_at,
                active=True,
            )
        )
        with pytest.raises(IntegrityError) as caught:
            await db.flush()
        assert getattr(caught.value.orig, "sqlstate", None) == "23P01"


async def test_automatic_choice_under_a_race_picks_another_free_mediator(world: World):
    """Two offices ask for the same hour at once with no mediator named: both are booked,
    with different mediators (on PostgreSQL the loser of the race chooses again)."""
    for n in range(3):  # a few rounds, so the race actually happens at least once
        day = MONDAY.replace(day=MONDAY.day + n)
        a, b = await asyncio.gather(
            world.book("staff_shaping", "shaping", local(day, 9, 0), 60),
            world.book("staff_qiaotou", "qiaotou", local(day, 9, 0), 60),
        )
        assert (a.status, b.status) == (201, 201), (await a.text(), await b.text())
        hosts = {(await a.json())["host"]["id"], (await b.json())["host"]["id"]}
        assert hosts == {world.users["med_wang"].id, world.users["med_li"].id}
