"""Booking rules: working days across National Day 2026, working hours, the fast-track
deadline, consent, stage, durations, unknown people, other offices; every refusal names its
reason and writes nothing."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from server.models.audit import AuditEntry
from server.models.docket import DocketEntry
from server.models.scheduling import Booking, OutboxMessage
from server.models.sessions import MediationSession
from server.web.keys import SESSIONMAKER
from tests.test_booking_support import MONDAY, SHANGHAI, World, add_case, local, start_world


@pytest.fixture
async def world(aiohttp_client, app) -> World:
    return await start_world(aiohttp_client, app)


async def _nothing_written(world: World) -> None:
    async with world.client.app[SESSIONMAKER]() as db:
        for model in (Booking, MediationSession, OutboxMessage):
            assert await db.scalar(select(func.count()).select_from(model)) == 0, model


async def _refused(resp, status: int, code: str) -> str:
    body = await resp.json()
    assert resp.status == status, body
    assert body["error"]["code"] == code, body
    return str(body["error"]["message"])


async def test_working_days_across_national_day(world: World):
    for day in (date(2026, 10, 1), date(2026, 10, 7), date(2026, 10, 4), date(2026, 9, 19)):
        resp = await world.book("staff_shaping", "shaping", local(day, 9, 0))
        message = await _refused(resp, 422, "non_working_day")
        assert day.isoformat() in message
    await _nothing_written(world)
    # The swapped working weekend days are bookable.
    resp = await world.book("staff_shaping", "shaping", local(date(2026, 9, 20), 9, 0))
    assert resp.status == 201, await resp.text()
    resp = await world.book("staff_shaping", "shaping2", local(date(2026, 10, 10), 9, 0))
    assert resp.status == 201, await resp.text()


@pytest.mark.parametrize(
    ("hh", "mm", "minutes"),
    [(8, 0, 60), (11, 30, 60), (12, 0, 60), (13, 0, 60), (17, 0, 60), (16, 30, 90), (19, 0, 30)],
)
async def test_outside_working_hours(world: World, hh, mm, minutes):
    resp = await world.book("staff_shaping", "shaping", local(MONDAY, hh, mm), minutes)
    message = await _refused(resp, 422, "outside_working_hours")
    assert "08:30–12:00、14:30–17:30" in message  # listed as Chinese lists
    await _nothing_written(world)


async def test_a_hosts_own_hours(world: World):
    wang = world.users["med_wang"].id
    resp = await world.api(
        "admin", "PUT", f"/scheduling/hours/{wang}", json={"blocks": [["14:30", "17:30"]]}
    )
    assert resp.status == 200, await resp.text()
    resp = await world.book("staff_shaping", "shaping", local(MONDAY, 9, 0), host_id=wang)
    message = await _refused(resp, 422, "outside_working_hours")
    assert "med_wang" in message
    # Automatic choice skips him in the morning.
    resp = await world.book("staff_shaping", "shaping", local(MONDAY, 9, 0))
    assert resp.status == 201
    assert (await resp.json())["host"]["name"] == "med_li"
    resp = await world.api(
        "admin", "PUT", f"/scheduling/hours/{wang}", json={"blocks": [["14:30", "12:00"]]}
    )
    await _refused(resp, 422, "bad_hours")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"starts_at": "2026-09-14T08:30:00+08:00", "duration_minutes": 60}, "start_in_past"),
        (
            {"starts_at": "2026-09-21T10:00:00+08:00", "ends_at": "2026-09-21T09:00:00+08:00"},
            "end_before_start",
        ),
        ({"starts_at": "2026-09-21T09:00:00+08:00", "duration_minutes": 10}, "bad_duration"),
        ({"starts_at": "2026-09-21T09:00:00+08:00", "duration_minutes": 300}, "bad_duration"),
        ({"starts_at": "2026-09-21T09:00:00+08:00"}, "invalid"),
        (
            {"starts_at": "2026-09-21T09:00:00+08:00", "duration_minutes": 60, "host_id": 999999},
            "unknown_host",
        ),
        ({"starts_at": "yesterday", "duration_minutes": 60}, "invalid"),
        ({"starts_at": "2026-09-21T09:00:00+08:00", "duration_minutes": 60, "x": 1}, "invalid"),
    ],
)
async def test_bad_input_is_422_and_writes_nothing(world: World, body, code):
    payload = {"case_id": world.cases["shaping"].id, **body}
    resp = await world.api("staff_shaping", "POST", "/scheduling/bookings", json=payload)
    await _refused(resp, 422, code)
    await _nothing_written(world)


async def test_a_judge_does_not_host_a_mediation(world: World):
    resp = await world.book(
        "staff_shaping", "shaping", local(MONDAY, 9, 0), host_id=world.users["judge_zhao"].id
    )
    await _refused(resp, 422, "wrong_host_role")


async def test_naive_times_are_the_courts_zone(world: World):
    resp = await world.api(
        "staff_shaping",
        "POST",
        "/scheduling/bookings",
        json={
            "case_id": world.cases["shaping"].id,
            "starts_at": "2026-09-21T09:00:00",
            "duration_minutes": 45,
        },
    )
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["starts_at"] == "2026-09-21T01:00:00Z"
    assert body["local_start"] == "2026-09-21 09:00"


async def test_consent_and_stage(world: World):
    world.cases["refused"] = await add_case(
        world.client, "shaping", "pre_litigation_mediation", consents=False
    )
    world.cases["intake"] = await add_case(world.client, "shaping", "intake")
    message = await _refused(
        await world.book("staff_shaping", "refused", local(MONDAY, 9, 0)), 409, "consent_missing"
    )
    assert "张三" in message and "李四" in message
    await _refused(
        await world.book("staff_shaping", "intake", local(MONDAY, 9, 0)),
        409,
        "stage_not_bookable",
    )
    await _nothing_written(world)


async def test_another_offices_case_is_not_found(world: World):
    resp = await world.book("staff_qiaotou", "shaping", local(MONDAY, 9, 0))
    await _refused(resp, 404, "case_not_found")
    resp = await world.api(
        "staff_shaping",
        "POST",
        "/scheduling/bookings",
        json={"case_id": 999999, "starts_at": local(MONDAY, 9, 0), "duration_minutes": 60},
    )
    await _refused(resp, 404, "case_not_found")
    await _nothing_written(world)


async def test_fast_track_deadline_across_national_day(world: World):
    # Entered fast track on Tuesday 29 September: Wed 30 Sep, then (1–7 Oct off) Thu 8,
    # Fri 9, Sat 10 (worked), Mon 12 October is the 5th working day.
    world.clock.set(datetime(2026, 9, 29, 9, 0, tzinfo=SHANGHAI))
    world.cases["fast"] = await add_case(world.client, "shaping", "fast_track")
    world.cases["fast2"] = await add_case(world.client, "shaping", "fast_track")
    for key in ("fast", "fast2"):
        assert world.cases[key].fast_track_deadline == date(2026, 10, 12)
    resp = await world.book("staff_shaping", "fast", local(date(2026, 10, 13), 9, 0))
    message = await _refused(resp, 409, "past_deadline")
    assert "2026-10-12" in message
    resp = await world.book("staff_shaping", "fast", local(date(2026, 10, 12), 9, 0))
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["kind"] == "hearing" and body["host"]["name"] == "judge_zhao"
    resp = await world.book("staff_shaping", "fast2", local(date(2026, 10, 10), 14, 30))
    assert resp.status == 201, await resp.text()


async def test_least_booked_mediator_that_week(world: World):
    wang, li = world.users["med_wang"].id, world.users["med_li"].id
    r1 = await world.book("staff_shaping", "shaping", local(MONDAY, 9, 0), host_id=wang)
    assert r1.status == 201
    r2 = await world.book("staff_qiaotou", "qiaotou", local(MONDAY, 14, 30))
    assert (await r2.json())["host"]["id"] == li  # wang has one this week, li none
    r3 = await world.book("staff_shaping", "shaping2", local(date(2026, 9, 22), 9, 0))
    assert (await r3.json())["host"]["id"] in (wang, li)  # one each: a tie, either of them
    # The one of them with fewer bookings again is chosen, whichever took the tie.
    tied = (await r3.json())["host"]["id"]
    world.cases["qiaotou2"] = await add_case(world.client, "qiaotou", "pre_litigation_mediation")
    r4 = await world.book("staff_qiaotou", "qiaotou2", local(date(2026, 9, 23), 9, 0))
    assert r4.status == 201, await r4.text()
    assert (await r4.json())["host"]["id"] == ({wang, li} - {tied}).pop()


async def test_a_booking_enters_the_timeline_and_the_audit_log(world: World):
    resp = await world.book("staff_shaping", "shaping", local(MONDAY, 9, 0))
    booking = await resp.json()
    assert len(booking["invites"]) == 2
    assert all(i["url"] == "http://127.0.0.1:8080/join/" + i["token"] for i in booking["invites"])
    async with world.client.app[SESSIONMAKER]() as db:
        entries = list(
            await db.scalars(
                select(DocketEntry)
                .where(DocketEntry.case_id == world.cases["shaping"].id)
                .order_by(DocketEntry.id)
            )
        )
        # Registered, taken into mediation, then booked.
        assert [e.kind for e in entries] == ["created", "transition", "booked"]
        assert entries[-1].data and entries[-1].data["booking_id"] == booking["id"]
        actions = set(await db.scalars(select(AuditEntry.action)))
    assert {"booking.create", "session.create", "invite.create"} <= actions
