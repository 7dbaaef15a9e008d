"""The scheduling pages as office staff and the court use them: dashboard, grid, booking by
form, the booking page with its delivery state, move and cancel, a mediator's week, the
center's overview; Chinese by default, refusals shown with their reason."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest

from tests.helpers import login, post_form
from tests.test_booking_support import MONDAY, SHANGHAI, World, add_case, local, start_world


@pytest.fixture
async def world(aiohttp_client, app) -> World:
    return await start_world(aiohttp_client, app)


async def test_office_staff_book_from_the_grid(world: World):
    client = world.client
    await login(client, "staff_shaping")
    page = await (await client.get("/schedule")).text()
    assert "办事处工作台" in page and "沙坪街道办事处" in page
    assert "待预约案件" in page and "民间借贷纠纷" in page
    case_id = world.cases["shaping"].id
    grid = await client.get(f"/schedule/availability?case_id={case_id}&date={MONDAY}")
    text = await grid.text()
    assert grid.status == 200 and "预约 09:00" in text and "非工作日" in text
    assert "2026-09-21 周一" in text and "2026-09-27 周日" in text  # planned by the week
    # The zone as a resident names it, in the page's punctuation.
    assert "时间均为北京时间。空闲时段" in text and "Asia/Shanghai" not in text
    resp = await post_form(
        client,
        "/schedule/book",
        {
            "office": "shaping",
            "case_id": str(case_id),
            "starts_at": "2026-09-21T01:00:00+00:00",
            "duration_minutes": "60",
            "host_id": "",
            "date": str(MONDAY),
            "view": "week",
        },
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    location = resp.headers["Location"]
    assert re.fullmatch(r"/schedule/bookings/\d+", location)
    page = await (await client.get(location)).text()
    assert "2026-09-21 09:00–10:00" in page
    assert "邀请链接" in page and "/join/" in page and "送达情况" in page and "等待发送" in page
    # The booked hour is gone from the grid.
    text = await (
        await client.get(f"/schedule/availability?case_id={case_id}&date={MONDAY}&view=day")
    ).text()
    assert "预约 09:00" not in text and "预约 10:00" in text


async def test_a_refusal_is_shown_with_its_reason(world: World):
    client = world.client
    await login(client, "staff_shaping")
    resp = await post_form(
        client,
        "/schedule/book",
        {
            "office": "shaping",
            "case_id": str(world.cases["shaping"].id),
            "starts_at": local(MONDAY.replace(day=1, month=10), 9, 0),
            "duration_minutes": "60",
        },
    )
    assert resp.status == 422
    text = await resp.text()
    # In the reader's language, the day filled in (the office staff once read the server's
    # English here: "2026-10-01 is not a working day").
    assert "未能预约：2026-10-01 不是工作日" in text
    assert "not a working day" not in text


async def test_a_taken_slot_is_refused_naming_the_booking_in_the_way(world: World):
    first = await (await world.book("staff_shaping", "shaping", local(MONDAY, 9, 0))).json()
    client = world.client
    await login(client, "staff_shaping")
    form = {
        "office": "shaping",
        "case_id": str(world.cases["shaping"].id),
        "starts_at": local(MONDAY, 9, 0),
        "duration_minutes": "60",
    }
    resp = await post_form(client, "/schedule/book", form)
    assert resp.status == 409
    text = await resp.text()
    assert f"预约 {first['id']}" in text and "is already booked" not in text
    # Asked in English, the same refusal in English, its values the same.
    resp = await post_form(client, "/schedule/book?lang=en", form)
    assert f"by booking {first['id']}" in await resp.text()


async def test_move_and_cancel_by_form(world: World):
    booking = await (await world.book("staff_shaping", "shaping", local(MONDAY, 9, 0))).json()
    client = world.client
    await login(client, "staff_shaping")
    base = f"/schedule/bookings/{booking['id']}"
    resp = await post_form(
        client,
        base + "/move",
        {"starts_at": "2026-09-21T15:00", "duration_minutes": "60", "reason": "当事人请求"},
        allow_redirects=False,
    )
    assert resp.status == 303 and resp.headers["Location"] == base
    page = await (await client.get(base)).text()
    assert "2026-09-21 15:00–16:00（北京时间）" in page
    resp = await post_form(
        client,
        base + "/move",
        {"starts_at": "2026-10-02T15:00", "duration_minutes": "60", "reason": "x"},
    )
    assert resp.status == 422 and "未修改" in await resp.text()
    resp = await post_form(client, base + "/cancel", {"reason": "已和解"}, allow_redirects=False)
    assert resp.status == 303
    page = await (await client.get(base)).text()
    assert "已取消" in page and "已和解" in page and "已撤回" in page
    # The case's timeline tells it in Chinese: booked, moved (from when, why), cancelled.
    page = await (await client.get(f"/cases/{booking['case_id']}")).text()
    assert "<strong>预约会话</strong>：2026-09-21 09:00–10:00" in page
    assert "<strong>会话改期</strong>：2026-09-21 15:00–16:00" in page
    assert '，原定 2026-09-21 09:00 <span class="muted">— 当事人请求</span>' in page
    assert "<strong>取消预约</strong>：" in page and "— 已和解</span>" in page
    assert "booking_moved" not in page and "from 2026" not in page
    page = await (await client.get(base + "?lang=en")).text()
    assert "2026-09-21 15:00–16:00 (Beijing time)" in page


async def test_a_mediators_week_and_the_center(world: World):
    await world.book(
        "staff_shaping", "shaping", local(MONDAY, 9, 0), host_id=world.users["med_wang"].id
    )
    await world.book(
        "staff_qiaotou", "qiaotou", local(MONDAY, 15, 0), host_id=world.users["med_li"].id
    )
    client = world.client
    await login(client, "med_wang")
    resp = await client.get("/schedule", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/schedule/my"
    week = await (await client.get(f"/schedule/my?date={MONDAY}")).text()
    # Under the day's heading, a session's time goes without the date again.
    assert "<h2>2026-09-21 周一</h2>" in week and ">09:00–10:00</a>" in week
    assert "2026-09-21 09:00" not in week and "沙坪街道办事处" in week
    assert "桥头街道办事处" not in week  # med_li's session
    day = await (await client.get(f"/schedule/my?date={MONDAY}&view=day&lang=en")).text()
    assert "Sessions of" in day and ">09:00–10:00</a>" in day and "2026-09-21 Mon" in day
    center = await (await client.get(f"/schedule/center?date={MONDAY}&lang=zh_CN")).text()
    assert "中心总览" in center and "2 场" in center and "09-21 周一" in center
    assert "med_wang" in center and "med_li" in center
    # Cases waiting to be booked name their office as people do, not by its code.
    waiting = center.split("<ul>", 1)[1]
    assert "沙坪街道办事处" in waiting and "· shaping" not in waiting


async def test_an_overdue_fast_track_case_waits_first_and_says_so(world: World):
    """A fast-track case past its five working days heads the cases waiting to be booked, on
    both databases (SQLite puts a missing deadline first by itself), marked 已超期."""
    late = await add_case(world.client, "qiaotou", "fast_track")
    assert late.fast_track_deadline is not None
    world.clock.set(
        datetime.combine(late.fast_track_deadline + timedelta(days=2), time(9), SHANGHAI)
    )
    client = world.client
    await login(client, "med_wang")
    center = await (await client.get(f"/schedule/center?date={MONDAY}")).text()
    first = center.split("<ul>", 1)[1].split("</li>", 1)[0]
    assert late.number in first and "已超期" in first, first
    assert f'<a href="/cases/{late.id}" class="case-no">' in first  # one click to the case
    waiting = await (await client.get("/api/v1/scheduling/waiting")).json()
    assert waiting[0]["case_id"] == late.id and waiting[0]["overdue"] is True
    assert not any(w["overdue"] for w in waiting[1:])
    await login(client, "staff_qiaotou")
    dashboard = await (await client.get("/schedule")).text()
    row = dashboard.split("<tbody>")[-1].split("</tr>", 1)[0]
    assert late.number in row and "已超期" in row, row
