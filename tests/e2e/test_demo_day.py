"""A newcomer on the demo, in real Chromium (issue 13): the demo seeded by the real
``run_demo`` into a fresh SQLite data directory, then the real app serving it.

- Street-office staff log in, find cases waiting to be booked on their workbench, book one
  through the availability page and see it booked.
- The mediator and a party follow the lines ``courtlink demo`` printed: the mediator logs in
  and opens the printed session link, the party opens their printed link and enters their
  name, the mediator admits them from the lobby, and both are in the live room.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, expect

from server.demo_data import STREET_OFFICES
from tests.e2e.conftest import SCREENSHOT_DIR, LiveServer, log_in
from tests.e2e.demo_world import HOST_LINK, PARTY_LINK, STAFF_PASSWORD, Demo, seed_demo, serve
from tests.e2e.sessions import open_page, pass_selftest_and_join, wait_place, wait_playing

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Demo:
    """The demo, seeded once for the module (it takes a while) on the real clock."""
    return seed_demo(tmp_path_factory.mktemp("demo") / "var", sqlite_template)


@pytest.fixture
async def demo_server(tmp_path: Path, seeded: Demo) -> AsyncIterator[LiveServer]:
    """The real app on a copy of the seeded demo, on a free port."""
    async with serve(tmp_path / "var", seeded) as server:
        yield server


async def _staff_page(browser: Browser, server: LiveServer, office: str) -> Page:
    context = await browser.new_context(
        base_url=server.url, locale="zh-CN", viewport={"width": 1280, "height": 900}
    )
    page = await context.new_page()
    page.set_default_timeout(15_000)
    await log_in(page, f"staff.{office}", STAFF_PASSWORD)
    await page.goto("/schedule")
    await expect(page.get_by_role("heading", name="待预约案件")).to_be_visible()
    return page


WAITING = "section:has(h2:text-is('待预约案件')) tbody tr"


async def test_office_staff_book_a_waiting_case(browser: Browser, demo_server: LiveServer):
    # Every street office's workbench has cases waiting and sessions booked (today's, or
    # the next working day's after hours, and upcoming ones).
    for office in STREET_OFFICES:
        page = await _staff_page(browser, demo_server, office)
        assert await page.locator(WAITING).count() >= 1, office
        assert await page.locator("a[href^='/schedule/bookings/']").count() >= 2, office
        await page.context.close()

    # The workbench: cases waiting to be booked, each with a way to book it.
    page = await _staff_page(browser, demo_server, "caiwa")
    waiting = page.locator(WAITING)
    row = waiting.filter(has=page.get_by_role("link", name="预约")).first
    case = (await row.locator("td").first.inner_text()).split()[0]
    await row.get_by_role("link", name="预约").click()

    # The availability page offers that case and free slots; book the first one (a week
    # ahead when this week has no free time left, e.g. on a Friday evening).
    await expect(page.locator("select[name=case_id] option:checked")).to_contain_text(case)
    slots = page.locator("table.schedule-grid button[type=submit]")
    if await slots.count() == 0:
        await page.get_by_role("link", name=re.compile("更晚")).click()
        await expect(page.locator("select[name=case_id] option:checked")).to_contain_text(case)
    async with page.expect_navigation():
        await slots.first.click()
    assert re.search(r"/schedule/bookings/\d+$", page.url), page.url
    await expect(page.locator("dl.facts")).to_contain_text(case)
    await expect(page.locator("dl.facts .badge.ok")).to_have_text("已预约")
    await page.screenshot(path=str(SCREENSHOT_DIR / "demo-booked.png"), full_page=True)

    # Each party's link, to send by SMS or read out on the phone: one click copies it whole.
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    link = page.locator(".invite-link").first
    await link.get_by_role("button", name=re.compile("^复制链接")).click()
    await expect(link.locator(".copy-state")).to_have_text("已复制")
    copied = await page.evaluate("navigator.clipboard.readText()")
    assert copied == await link.locator("input").input_value() and "/join/" in copied

    # Back on the workbench it waits no more.
    await page.goto("/schedule")
    await expect(waiting.filter(has_text=case)).to_have_count(0)


async def test_a_party_follows_the_printed_link_into_the_live_session(
    media_browser: Browser, demo_server: LiveServer, seeded: Demo
):
    # The printed links name the demo's public address; the test serves a copy elsewhere.
    logins = [m.groups() for line in seeded.lines if (m := HOST_LINK.search(line))]
    assert len(logins) == 1, seeded.lines
    username, password, host_url, _session_id = logins[0]
    parties = [m.groups() for line in seeded.lines if (m := PARTY_LINK.match(line))]
    assert len(parties) >= 2, seeded.lines
    name, party_url, _token = parties[0]

    # Step 1 of the printed lines: the mediator logs in and opens the session.
    refused: list[str] = []
    host = await open_page(media_browser, demo_server, refused)
    await log_in(host, username, password)
    await host.goto(urlsplit(host_url).path)
    host_pid = await pass_selftest_and_join(host)
    await wait_place(host, "main")

    # Step 2: the party opens their link in another browser and enters their name.
    party = await open_page(media_browser, demo_server, refused)
    await party.goto(urlsplit(party_url).path)
    party_pid = await pass_selftest_and_join(party, name)
    await wait_place(party, None)
    await host.click(f"#host-panel button[data-action=admit][data-pid='{party_pid}']")
    await wait_place(party, "main")
    await wait_playing(party, {host_pid})
    await wait_playing(host, {party_pid})
    await party.screenshot(path=str(SCREENSHOT_DIR / "demo-live.png"), full_page=True)
    assert not refused, refused
