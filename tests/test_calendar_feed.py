"""The secret, revocable calendar feed: what each user's feed holds, that it parses as
iCalendar, that cancellations show as CANCELLED, and that a revoked or replaced URL is gone."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from icalendar import Calendar

from tests.helpers import login, post_form
from tests.test_booking_support import MONDAY, World, local, start_world


@pytest.fixture
async def world(aiohttp_client, app) -> World:
    return await start_world(aiohttp_client, app)


async def _feed(world: World, who: str) -> str:
    resp = await world.api(who, "POST", "/scheduling/feed")
    assert resp.status == 201
    url = (await resp.json())["url"]
    assert url.startswith("http://127.0.0.1:8080/calendar/") and url.endswith(".ics")
    return urlsplit(url).path


async def _events(world: World, path: str) -> dict[str, str]:
    resp = await world.client.get(path)  # no login: the URL is the credential
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/calendar"
    cal = Calendar.from_ical(await resp.read())
    return {str(e["UID"]): str(e["STATUS"]) for e in cal.walk("VEVENT")}


async def test_each_feed_shows_its_owners_sessions(world: World):
    wang, li = world.users["med_wang"].id, world.users["med_li"].id
    a = await (
        await world.book("staff_shaping", "shaping", local(MONDAY, 9, 0), host_id=wang)
    ).json()
    b = await (await world.book("staff_qiaotou", "qiaotou", local(MONDAY, 9, 0), host_id=li)).json()
    assert await _events(world, await _feed(world, "med_wang")) == {a["uid"]: "CONFIRMED"}
    assert await _events(world, await _feed(world, "staff_qiaotou")) == {b["uid"]: "CONFIRMED"}
    assert set(await _events(world, await _feed(world, "clerk_sun"))) == {a["uid"], b["uid"]}
    path = await _feed(world, "staff_shaping")
    await world.api(
        "staff_shaping", "POST", f"/scheduling/bookings/{a['id']}/cancel", json={"reason": "撤诉"}
    )
    assert await _events(world, path) == {a["uid"]: "CANCELLED"}


async def test_a_feed_url_can_be_replaced_and_revoked(world: World):
    old = await _feed(world, "med_wang")
    new = await _feed(world, "med_wang")
    assert (await world.client.get(old)).status == 404
    assert (await world.client.get(new)).status == 200
    resp = await world.api("med_wang", "DELETE", "/scheduling/feed")
    assert resp.status == 204
    assert (await world.client.get(new)).status == 404
    assert (await world.client.get("/calendar/not-a-token.ics")).status == 404


async def test_the_feed_page(world: World):
    await login(world.client, "med_wang")
    page = await world.client.get("/schedule/feed")
    assert "您还没有订阅地址" in await page.text()
    resp = await post_form(world.client, "/schedule/feed", {})
    text = await resp.text()
    assert resp.status == 200 and "/calendar/" in text
    path = urlsplit(text.split("<code>")[1].split("</code>")[0]).path
    assert (await world.client.get(path)).status == 200
    resp = await post_form(world.client, "/schedule/feed/revoke", {})
    assert resp.status == 200  # redirected back to the page
    assert (await world.client.get(path)).status == 404
