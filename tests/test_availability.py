"""Free slots for an office: working blocks on working days (National Day 2026 included),
minus what is booked, with the hosts who could take each slot."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.test_booking_support import MONDAY, World, local, start_world


@pytest.fixture
async def world(aiohttp_client, app) -> World:
    return await start_world(aiohttp_client, app)


async def _slots(world: World, who: str, **params) -> dict:
    query = {"office": "shaping", "start": MONDAY.isoformat(), "duration_minutes": "60", **params}
    resp = await world.api(who, "GET", "/scheduling/availability", params=query)
    assert resp.status == 200, await resp.text()
    return await resp.json()


def _starts(day: dict[str, Any]) -> list[str]:
    """The day's slot start times. ``local_start``/``local_end`` mean what they mean on a
    booking: the full court-local "YYYY-MM-DD HH:MM", whatever the day."""
    assert day["slots"], day
    for slot in day["slots"]:
        assert slot["local_start"][:11] == slot["local_end"][:11] == day["date"] + " ", slot
    return [slot["local_start"][11:] for slot in day["slots"]]


async def test_a_free_day_offers_every_slot_of_both_blocks(world: World):
    body = await _slots(world, "staff_shaping")
    assert body["timezone"] == "Asia/Shanghai"
    (day,) = body["days"]
    assert day["working"] is True
    starts = _starts(day)
    # 08:30–12:00 and 14:30–17:30, a 60-minute session every 30 minutes, never across noon.
    assert starts == [
        "08:30",
        "09:00",
        "09:30",
        "10:00",
        "10:30",
        "11:00",
        "14:30",
        "15:00",
        "15:30",
        "16:00",
        "16:30",
    ]
    names = {h["name"] for h in day["slots"][0]["hosts"]}
    assert names == {"med_wang", "med_li"}
    assert day["slots"][0]["starts_at"] == "2026-09-21T00:30:00Z"  # sent in UTC


async def test_booked_time_leaves_the_grid(world: World):
    resp = await world.book(
        "staff_shaping", "shaping", local(MONDAY, 9, 0), 60, host_id=world.users["med_wang"].id
    )
    assert resp.status == 201, await resp.text()
    own = await _slots(world, "staff_shaping")
    starts = _starts(own["days"][0])
    # The office's one terminal is busy 09:00–10:00.
    assert "08:30" not in starts and "09:00" not in starts and "09:30" not in starts
    assert "10:00" in starts
    other = await _slots(world, "staff_qiaotou", office="qiaotou")
    nine = next(s for s in other["days"][0]["slots"] if s["local_start"] == "2026-09-21 09:00")
    assert [h["name"] for h in nine["hosts"]] == ["med_li"]  # med_wang is taken


async def test_a_chosen_mediator_only(world: World):
    await world.book(
        "staff_qiaotou", "qiaotou", local(MONDAY, 14, 30), 60, host_id=world.users["med_li"].id
    )
    body = await _slots(world, "staff_shaping", host_id=str(world.users["med_li"].id))
    starts = _starts(body["days"][0])
    assert "14:30" not in starts and "15:00" not in starts and "15:30" in starts
    assert all([h["name"] for h in s["hosts"]] == ["med_li"] for s in body["days"][0]["slots"])


async def test_holidays_and_swapped_working_weekends(world: World):
    body = await _slots(world, "staff_shaping", start="2026-09-19", end="2026-10-11")
    working = {d["date"]: d["working"] for d in body["days"]}
    assert working["2026-09-19"] is False  # Saturday
    assert working["2026-09-20"] is True  # Sunday, worked for National Day
    for day in range(1, 8):
        assert working[date(2026, 10, day).isoformat()] is False  # National Day
    assert working["2026-10-08"] is True
    assert working["2026-10-10"] is True  # Saturday, worked
    assert working["2026-10-11"] is False
    assert all(not d["slots"] for d in body["days"] if not d["working"])


async def test_past_slots_are_not_offered(world: World):
    body = await _slots(world, "staff_shaping", start="2026-09-14")
    starts = _starts(body["days"][0])
    assert starts[0] == "09:30"  # the clock says 09:00 on that day


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"duration_minutes": "10"}, "bad_duration"),
        ({"duration_minutes": "300"}, "bad_duration"),
        ({"end": "2026-09-01"}, "end_before_start"),
        ({"end": "2026-12-31"}, "range_too_long"),
        ({"start": "not-a-date"}, "invalid"),
        ({"office": "center"}, "not_an_office"),
    ],
)
async def test_bad_questions_are_422(world: World, params, code):
    query = {"office": "shaping", "start": MONDAY.isoformat(), "duration_minutes": "60", **params}
    resp = await world.api("clerk_sun", "GET", "/scheduling/availability", params=query)
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["error"]["code"] == code


async def test_office_staff_see_only_their_own_office(world: World):
    resp = await world.api(
        "staff_qiaotou",
        "GET",
        "/scheduling/availability",
        params={"office": "shaping", "start": MONDAY.isoformat()},
    )
    assert resp.status == 403
    resp = await world.api(
        None,
        "GET",
        "/scheduling/availability",
        params={"office": "shaping", "start": MONDAY.isoformat()},
    )
    assert resp.status == 401
    resp = await world.api(
        "staff_qiaotou",
        "GET",
        "/scheduling/availability",
        params={"office": "nowhere", "start": MONDAY.isoformat()},
    )
    assert resp.status == 404
