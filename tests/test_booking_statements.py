"""What one booking costs in SQL statements (bench/README.md "Booking": on this machine a
statement through the async ORM costs more of the server's CPU than of the database's).

A booking is the case's lock-free reads, one overlap query for everything it could take, the
session, the booking and its reservations, an invite per party, the timeline entry, the audit
rows and the outbox; nothing it already holds is read again."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from server.models.scheduling import Booking, Reservation
from server.scheduling.booking import create_booking
from server.web.keys import SESSIONMAKER
from tests.helpers import statements, unit
from tests.test_booking_support import MONDAY, SHANGHAI, World, start_world


@pytest.fixture
async def world(aiohttp_client, app) -> World:
    return await start_world(aiohttp_client, app)


async def test_a_booking_reads_nothing_twice(world: World) -> None:
    start = datetime(MONDAY.year, MONDAY.month, MONDAY.day, 9, 0, tzinfo=SHANGHAI)
    async with unit(world.client.app, world.users["staff_shaping"]) as ctx:
        async with statements(ctx) as seen:
            booking = await create_booking(
                ctx, world.cases["shaping"].id, start, start + timedelta(hours=1)
            )
            await ctx.db.flush()  # what the commit would still write
        overlap = [s for s in seen if s.startswith("SELECT reservations")]
        # One overlap query for the case, the mediators, the terminal and the rooms.
        assert len(overlap) == 1, seen
        # Reads (5): the case with its parties (one statement), their consents, the mediators
        # with their hours and their week's load (one statement; three before), the terminal
        # and rooms, the overlap. Writes: the session, the booking, the reservations in one
        # INSERT inside a savepoint, the invites, the timeline entry, the case's version, the
        # outbox in one INSERT (its SMS rows' NULLs rendered), and five audit rows, each going
        # in with the next flush (together where they meet). 40 before (SQLite). The invites
        # go in with one flush: one INSERT on PostgreSQL, row by row on SQLite (its RETURNING
        # does not promise the rows' order, so the ORM does not batch them).
        budget = 16 if ctx.db.bind.dialect.name == "postgresql" else 20
        assert len(seen) <= budget, (len(seen), seen)
        held = (booking.host.id, booking.room.id, booking.terminal.id, booking.session.id)
        booking_id = booking.id
    async with world.client.app[SESSIONMAKER]() as db:
        stored = await db.get(Booking, booking_id)
        assert stored is not None
        # What the booking held in memory is what was stored and reserved.
        assert (stored.host_id, stored.room_id, stored.terminal_id, stored.session_id) == held
        keys = set(await db.scalars(select(Reservation.resource).where(
            Reservation.booking_id == booking_id
        )))  # fmt: skip
        assert keys == {
            f"mediator:{held[0]}", f"room:{held[1]}", f"terminal:{held[2]}",
            f"case:{world.cases['shaping'].id}",
        }  # fmt: skip
