"""Moving and cancelling bookings: reasons, the freed slot, the 30-minute rule, the session
and its invite links, the timeline and audit, and refusals that change nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from server.models.docket import DocketEntry
from server.models.scheduling import Reservation
from server.models.sessions import Invite, MediationSession
from server.web.keys import SESSIONMAKER
from tests.test_booking_support import MONDAY, SHANGHAI, World, local, start_world


@pytest.fixture
async def world(aiohttp_client, app) -> World:
    return await start_world(aiohttp_client, app)


async def _booked(world: World, case: str = "shaping", hh: int = 9, **extra) -> dict:
    resp = await world.book("staff_shaping", case, local(MONDAY, hh, 0), 60, **extra)
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def _move(world: World, who: str, booking: dict, start: str, reason: str = "当事人请假"):
    return await world.api(
        who,
        "POST",
        f"/scheduling/bookings/{booking['id']}/move",
        json={"starts_at": start, "duration_minutes": 60, "reason": reason},
    )


async def test_move_frees_the_old_slot_and_bumps_the_sequence(world: World):
    booking = await _booked(world, host_id=world.users["med_wang"].id)
    resp = await _move(world, "staff_shaping", booking, local(MONDAY, 14, 30))
    assert resp.status == 200, await resp.text()
    moved = await resp.json()
    assert moved["local_start"] == "2026-09-21 14:30"
    assert moved["sequence"] == 1 and moved["uid"] == booking["uid"]
    assert moved["host"]["id"] == world.users["med_wang"].id
    # The old slot is free again for the same office and mediator.
    again = await world.book(
        "staff_shaping", "shaping2", local(MONDAY, 9, 0), 60, host_id=world.users["med_wang"].id
    )
    assert again.status == 201, await again.text()
    async with world.client.app[SESSIONMAKER]() as db:
        session = await db.get(MediationSession, booking["session_id"])
        assert session is not None
        assert session.starts_at == datetime(2026, 9, 21, 14, 30, tzinfo=SHANGHAI)
        kinds = list(
            await db.scalars(
                select(DocketEntry.kind)
                .where(DocketEntry.case_id == booking["case_id"])
                .order_by(DocketEntry.id)
            )
        )
        assert kinds == ["created", "transition", "booked", "booking_moved"]
        text = await db.scalar(select(DocketEntry.text).where(DocketEntry.kind == "booking_moved"))
        assert text and "当事人请假" in text
        invites = list(
            await db.scalars(select(Invite).where(Invite.session_id == booking["session_id"]))
        )
        assert len(invites) == 2
        assert all(i.expires_at > session.ends_at for i in invites)  # links still work


async def test_move_into_a_taken_slot_is_refused_and_changes_nothing(world: World):
    first = await _booked(world, hh=9, host_id=world.users["med_wang"].id)
    second = await _booked(world, case="shaping2", hh=15, host_id=world.users["med_li"].id)
    resp = await _move(world, "staff_shaping", second, local(MONDAY, 9, 30))
    body = await resp.json()
    assert resp.status == 409, body
    assert body["error"]["details"]["booking_id"] == first["id"]
    resp = await world.api("staff_shaping", "GET", f"/scheduling/bookings/{second['id']}")
    unchanged = await resp.json()
    assert unchanged["local_start"] == "2026-09-21 15:00" and unchanged["sequence"] == 0
    async with world.client.app[SESSIONMAKER]() as db:
        held = list(
            await db.scalars(
                select(Reservation).where(
                    Reservation.booking_id == second["id"], Reservation.active.is_(True)
                )
            )
        )
    assert len(held) == 4


async def test_a_change_needs_a_reason(world: World):
    booking = await _booked(world)
    resp = await _move(world, "staff_shaping", booking, local(MONDAY, 14, 30), reason="")
    assert resp.status == 422
    resp = await world.api(
        "staff_shaping", "POST", f"/scheduling/bookings/{booking['id']}/cancel", json={}
    )
    assert resp.status == 422


async def test_cancel_releases_everything_and_kills_the_links(world: World):
    booking = await _booked(world, host_id=world.users["med_wang"].id)
    resp = await world.api(
        "staff_shaping",
        "POST",
        f"/scheduling/bookings/{booking['id']}/cancel",
        json={"reason": "双方已自行和解"},
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["status"] == "cancelled" and body["cancel_reason"] == "双方已自行和解"
    assert body["sequence"] == 1
    assert len(body["invites"]) == 2
    assert all(i["revoked"] and i["url"] is None and i["token"] is None for i in body["invites"])
    async with world.client.app[SESSIONMAKER]() as db:
        session = await db.get(MediationSession, booking["session_id"])
        assert session is not None and session.status == "cancelled"
    again = await world.book(
        "staff_shaping", "shaping", local(MONDAY, 9, 0), 60, host_id=world.users["med_wang"].id
    )
    assert again.status == 201, await again.text()
    # A cancelled booking cannot be cancelled or moved again.
    resp = await world.api(
        "staff_shaping",
        "POST",
        f"/scheduling/bookings/{booking['id']}/cancel",
        json={"reason": "again"},
    )
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "booking_cancelled"


async def test_less_than_30_minutes_before_only_court_staff(world: World):
    booking = await _booked(world)
    start = datetime.fromisoformat(booking["starts_at"].replace("Z", "+00:00"))
    world.clock.set(start - timedelta(minutes=20))
    resp = await _move(world, "staff_shaping", booking, local(MONDAY, 14, 30))
    body = await resp.json()
    assert resp.status == 403 and body["error"]["code"] == "too_late_to_change", body
    resp = await world.api(
        "staff_shaping",
        "POST",
        f"/scheduling/bookings/{booking['id']}/cancel",
        json={"reason": "x"},
    )
    assert resp.status == 403
    resp = await _move(world, "clerk_sun", booking, local(MONDAY, 14, 30), reason="法官临时开庭")
    assert resp.status == 200, await resp.text()
    # 31 minutes before: office staff again.
    world.clock.set(datetime(2026, 9, 21, 13, 59, tzinfo=SHANGHAI))
    resp = await world.api(
        "staff_shaping",
        "POST",
        f"/scheduling/bookings/{booking['id']}/cancel",
        json={"reason": "改日"},
    )
    assert resp.status == 200, await resp.text()


async def test_a_started_session_cannot_be_moved(world: World):
    booking = await _booked(world)
    world.clock.set(datetime(2026, 9, 21, 9, 5, tzinfo=SHANGHAI))
    resp = await _move(world, "clerk_sun", booking, local(MONDAY, 14, 30))
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "booking_started"
