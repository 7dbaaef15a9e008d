"""Who may do what in scheduling: office staff of this office and of another, mediator (host
or not), judge, clerk, admin, anonymous; through the API and the pages."""

from __future__ import annotations

from datetime import date

import pytest

from tests.test_booking_support import MONDAY, World, local, start_world


@pytest.fixture
async def world(aiohttp_client, app) -> World:
    return await start_world(aiohttp_client, app)


CREATE = {
    "staff_shaping": 201,
    "staff_qiaotou": 404,  # another office's case does not exist for them
    "med_wang": 403,
    "judge_zhao": 403,
    "clerk_sun": 201,
    "admin": 201,
    None: 401,
}


async def test_who_may_book(world: World):
    # One slot each (25 September 2026 is the Mid-Autumn Festival: not a working day).
    slots = [
        (MONDAY, 8),
        (MONDAY, 9),
        (MONDAY, 10),
        (MONDAY, 15),
        (MONDAY, 16),
        (date(2026, 9, 22), 9),
        (date(2026, 9, 22), 10),
    ]
    for (day, hh), (who, status) in zip(slots, CREATE.items(), strict=True):
        start = local(day, hh, 30)
        resp = await world.book(who, "shaping", start)
        assert resp.status == status, (who, await resp.text())


async def test_who_may_see_and_change_a_booking(world: World):
    resp = await world.book(
        "staff_shaping", "shaping", local(MONDAY, 9, 0), host_id=world.users["med_wang"].id
    )
    booking = await resp.json()
    path = f"/scheduling/bookings/{booking['id']}"
    for who, status in {
        "staff_shaping": 200,
        "staff_qiaotou": 404,
        "med_wang": 200,
        "med_li": 200,
        "judge_zhao": 200,
        "clerk_sun": 200,
        "admin": 200,
        None: 401,
    }.items():
        resp = await world.api(who, "GET", path)
        assert resp.status == status, (who, await resp.text())
        if status == 200:
            links = [i["url"] for i in (await resp.json())["invites"]]
            assert len(links) == 2
            # Only those who book, the clerks and the session's host hold the parties' links.
            holders = ("staff_shaping", "clerk_sun", "admin", "med_wang")
            assert all(links) if who in holders else not any(links), (who, links)
            tokens = [i["token"] for i in (await resp.json())["invites"]]
            assert all(tokens) if who in holders else not any(tokens), (who, tokens)
            assert [t and f"/join/{t}" for t in tokens] == [
                u and u[u.index("/join/") :] for u in links
            ]
    move = {"starts_at": local(MONDAY, 15, 0), "duration_minutes": 60, "reason": "r"}
    for who, status in {"staff_qiaotou": 404, "med_li": 403, "judge_zhao": 403}.items():
        resp = await world.api(who, "POST", path + "/move", json=move)
        assert resp.status == status, (who, await resp.text())
        resp = await world.api(who, "POST", path + "/cancel", json={"reason": "r"})
        assert resp.status == status, (who, await resp.text())
    resp = await world.api("med_wang", "POST", path + "/move", json=move)  # the host may
    assert resp.status == 200, await resp.text()
    resp = await world.api(None, "POST", path + "/cancel", json={"reason": "r"})
    assert resp.status == 401


async def test_availability_and_lists_by_office(world: World):
    await world.book("staff_shaping", "shaping", local(MONDAY, 9, 0))
    q = {"office": "shaping", "start": MONDAY.isoformat()}
    for who, status in {
        "staff_shaping": 200,
        "staff_qiaotou": 403,
        "med_wang": 200,
        "judge_zhao": 200,
        "clerk_sun": 200,
        "admin": 200,
        None: 401,
    }.items():
        resp = await world.api(who, "GET", "/scheduling/availability", params=q)
        assert resp.status == status, who
    q = {"start": MONDAY.isoformat()}
    resp = await world.api("staff_qiaotou", "GET", "/scheduling/bookings", params=q)
    assert await resp.json() == []
    resp = await world.api(
        "staff_qiaotou", "GET", "/scheduling/bookings", params={**q, "office": "shaping"}
    )
    assert resp.status == 403
    resp = await world.api("clerk_sun", "GET", "/scheduling/bookings", params=q)
    assert len(await resp.json()) == 1
    resp = await world.api("staff_qiaotou", "GET", "/scheduling/waiting")
    assert [w["office"] for w in await resp.json()] == ["qiaotou"]


async def test_only_admins_set_hours_and_facilities(world: World):
    wang = world.users["med_wang"].id
    hours = {"blocks": [["09:00", "12:00"]]}
    for who, status in {
        "staff_shaping": 403,
        "med_wang": 403,
        "clerk_sun": 403,
        "admin": 200,
        None: 401,
    }.items():
        resp = await world.api(who, "PUT", f"/scheduling/hours/{wang}", json=hours)
        assert resp.status == status, who
    resp = await world.api("admin", "PUT", "/scheduling/facilities/shaping", json={"count": 2})
    assert resp.status == 200
    assert [f["name"] for f in await resp.json()] == ["视频终端 1", "视频终端 2"]
    # Two terminals: two sessions at once from 沙坪.
    r1 = await world.book("staff_shaping", "shaping", local(MONDAY, 9, 0))
    r2 = await world.book("staff_shaping", "shaping2", local(MONDAY, 9, 0))
    assert (r1.status, r2.status) == (201, 201)
    resp = await world.api("admin", "PUT", "/scheduling/facilities/center", json={"count": 1})
    assert resp.status == 200
    resp = await world.api("staff_shaping", "GET", "/scheduling/resources")
    body = await resp.json()
    assert len(body["rooms"]) == 1 and len(body["terminals"]) == 7
    assert {h["name"] for h in body["hosts"]} == {"med_wang", "med_li", "judge_zhao"}


async def test_pages_by_role(world: World):
    from tests.helpers import login

    resp = await world.book("staff_shaping", "shaping", local(MONDAY, 9, 0))
    booking = await resp.json()
    client = world.client
    expected = {
        "staff_qiaotou": {
            "/schedule": 200,
            "/schedule/center": 403,
            f"/schedule/bookings/{booking['id']}": 404,
            "/schedule/availability?office=shaping": 403,
        },
        "med_wang": {
            "/schedule/center": 200,
            f"/schedule/bookings/{booking['id']}": 200,
            "/schedule/my": 200,
            "/schedule/availability": 200,
        },
        "clerk_sun": {
            "/schedule/availability": 200,
            "/schedule?office=shaping": 200,
            "/schedule/feed": 200,
        },
    }
    for who, pages in expected.items():
        client.session.cookie_jar.clear()
        await login(client, who)
        for path, status in pages.items():
            resp = await client.get(path)
            assert resp.status == status, (who, path)
    client.session.cookie_jar.clear()
    resp = await client.get("/schedule", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/login")
