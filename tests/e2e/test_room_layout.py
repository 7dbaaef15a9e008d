"""The session room's layout facts (issue 14 items 2 and 5), in real browsers at 1366x768 and
375x812: after joining, the control bar (and for the host the room name, the recording
indicator and the stop-recording button) lie inside the viewport; the tiles use most of the
screen on a desktop; the connection badge covers no tile; at phone size every visible button
in the room is at least 44x44; deny is apart from admit and deny / remove ask first (an
in-page step, the socket keeps running meanwhile); someone arriving in the lobby shows a toast
and a count on the host panel's toggle. Firefox at desktop size: control bar and tiles' area.

The facts are read by one script in the page, so Chromium (Playwright) and Firefox (BiDi
``Tab``) are asked the same question."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page

from tests.e2e.conftest import LiveServer, LiveUser, log_in
from tests.e2e.firefox import launch
from tests.e2e.sessions import (
    Driver,
    firefox_party_joins,
    pass_selftest_and_join,
    seed,
    wait_place,
    wait_playing,
)
from tests.e2e.viewports import DESKTOP, PHONE, open_at, small_tap_targets

# Where things are, as laid out now: each selector's box (null when not shown), how much of
# the viewport the video tiles cover, whether the connection badge overlaps a tile or the
# agreement panel, and the page's scroll position.
FACTS = """(selectors) => {
  const vw = window.innerWidth, vh = window.innerHeight;
  const box = (el) => { if (!el) return null; const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 ? { x: r.x, y: r.y, w: r.width, h: r.height } : null; };
  const inside = (b) => !!b && b.x >= -0.5 && b.y >= -0.5 && b.x + b.w <= vw + 0.5
    && b.y + b.h <= vh + 0.5;
  const meet = (a, b) => !!a && !!b && Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x) > 0.5
    && Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y) > 0.5;
  const out = { vw, vh, scrollY: window.scrollY, boxes: {}, inside: {} };
  for (const s of selectors) { const b = box(document.querySelector(s));
    out.boxes[s] = b; out.inside[s] = inside(b); }
  const tiles = [...document.querySelectorAll('#tiles .tile')].map(box).filter(Boolean);
  let area = 0;
  for (const t of tiles) {
    const w = Math.min(t.x + t.w, vw) - Math.max(t.x, 0);
    const h = Math.min(t.y + t.h, vh) - Math.max(t.y, 0);
    if (w > 0 && h > 0) area += w * h;
  }
  out.tiles = tiles.length;
  out.coverage = area / (vw * vh);
  const badge = box(document.getElementById('conn-state'));
  out.badge = badge;
  out.badgeOverTile = tiles.some((t) => meet(badge, t));
  out.badgeOverAgreement = meet(badge, box(document.getElementById('agreement-panel')));
  return out;
}"""

# The tiles as drawn: which is featured (drawn larger), whose, and how big.
TILES = """() => [...document.querySelectorAll('#tiles .tile')].map(t => ({
  featured: t.classList.contains('featured'), remote: t.classList.contains('remote'),
  source: t.dataset.source || 'self', area: t.offsetWidth * t.offsetHeight }))"""


async def featured_tile(page: Page) -> dict[str, Any]:
    """The one featured tile, checked to be the largest on the screen."""
    tiles = await page.evaluate(TILES)
    featured = [t for t in tiles if t["featured"]]
    assert len(featured) == 1, tiles
    assert featured[0]["area"] > max(t["area"] for t in tiles if not t["featured"]), tiles
    return featured[0]


HOST_SELECTORS = ["#control-bar", "#room-name", "#recording-indicator", "#recording-button",
                  "#panel-toggle"]  # fmt: skip


async def facts(page: Driver, selectors: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(FACTS, selectors)
    return result


async def gap_between(page: Page, a: str, b: str) -> float:
    """The distance between two elements' boxes (0 when they touch or overlap)."""
    one, two = await page.locator(a).bounding_box(), await page.locator(b).bounding_box()
    assert one and two
    dx = max(two["x"] - (one["x"] + one["width"]), one["x"] - (two["x"] + two["width"]), 0)
    dy = max(two["y"] - (one["y"] + one["height"]), one["y"] - (two["y"] + two["height"]), 0)
    return max(dx, dy)


async def host_joins(
    browser: Browser, server: LiveServer, sid: int, size: dict[str, Any]
) -> tuple[Page, str]:
    host = await open_at(browser, server, size)
    host.set_default_timeout(30_000)
    await log_in(host, "med")
    await host.goto(f"/sessions/{sid}/join")
    pid = await pass_selftest_and_join(host)
    await wait_place(host, "main")
    return host, pid


async def asks_first(host: Page, button: str) -> None:
    """The destructive button opens the in-page confirmation; 取消 closes it, nothing sent."""
    await host.click(button)
    dialog = host.locator("#confirm-dialog[open]")
    await dialog.wait_for()
    await host.click("#confirm-dialog [data-answer=no]")
    await host.locator("#confirm-dialog[open]").wait_for(state="detached")


async def test_room_layout_host_desktop_party_phone(
    media_browser: Browser, live_server: LiveServer, live_user: LiveUser
) -> None:
    sid, invite_url = await seed(live_server, live_user)
    host, host_pid = await host_joins(media_browser, live_server, sid, DESKTOP)
    staff = await open_at(media_browser, live_server, DESKTOP)
    staff.set_default_timeout(30_000)
    party = await open_at(media_browser, live_server, PHONE)
    party.set_default_timeout(30_000)

    # Arrivals in the lobby: a toast naming them and the count on the panel toggle.
    await log_in(staff, "office")
    await staff.goto(f"/sessions/{sid}/join")
    staff_pid = await pass_selftest_and_join(staff)
    await host.locator("#toast:not([hidden])").wait_for()
    assert "平潭街工作人员" in (await host.text_content("#toast") or "")
    await host.locator("#panel-badge:not([hidden])").wait_for()
    assert (await host.text_content("#panel-badge") or "").strip() == "1"
    await party.goto(invite_url.removeprefix(live_server.url))
    party_pid = await pass_selftest_and_join(party, "张三")
    await host.wait_for_function(
        "() => document.getElementById('panel-badge').textContent.trim() === '2'"
    )
    assert "张三" in (await host.text_content("#toast") or "")

    # Deny is apart from admit, and asks first.
    admit = f"#host-panel button[data-action=admit][data-pid='{party_pid}']"
    deny = f"#host-panel button[data-action=deny][data-pid='{party_pid}']"
    assert await gap_between(host, admit, deny) >= 8
    await asks_first(host, deny)
    await wait_place(party, None)

    for pid in (staff_pid, party_pid):
        await host.click(f"#host-panel button[data-action=admit][data-pid='{pid}']")
    await wait_place(party, "main")
    await wait_place(staff, "main")
    await wait_playing(host, {staff_pid, party_pid})
    await wait_playing(party, {host_pid, staff_pid})
    await host.locator("#panel-badge").wait_for(state="hidden")
    # The state that empties the lobby also takes back the toast saying they wait there.
    assert await host.locator("#toast").is_hidden()

    # Remove asks first too.
    await asks_first(host, f"#host-panel button[data-action=remove][data-pid='{party_pid}']")

    # The host's desktop: controls in view, three tiles over half the screen, badge clear.
    await host.locator("#recording-indicator:not([hidden])").wait_for()
    seen = await facts(host, HOST_SELECTORS)
    assert all(seen["inside"].values()), seen
    assert seen["tiles"] == 3 and seen["coverage"] > 0.5, seen
    assert seen["badge"] and not seen["badgeOverTile"], seen
    assert await gap_between(host, "#end-button", "#leave-button") >= 8
    assert await gap_between(host, "#recording-button", "#leave-button") >= 8
    # With three, one other person (the one speaking, else the first) is drawn larger.
    assert (await featured_tile(host))["remote"]

    # The party's phone: control bar in view, taps big enough, badge clear.
    seen = await facts(party, ["#control-bar", "#room-name"])
    assert all(seen["inside"].values()), seen
    assert seen["badge"] and not seen["badgeOverTile"], seen
    assert await small_tap_targets(party, "#screen-room") == []

    for page in (host, staff, party):
        await page.context.close()


async def test_room_layout_host_on_phone(
    media_browser: Browser, live_server: LiveServer, live_user: LiveUser
) -> None:
    sid, invite_url = await seed(live_server, live_user)
    host, _host_pid = await host_joins(media_browser, live_server, sid, PHONE)
    party = await open_at(media_browser, live_server, DESKTOP)
    party.set_default_timeout(30_000)

    # Right after joining: not scrolled away; room name, 录制中 and 停止录像 in view.
    await host.locator("#recording-indicator:not([hidden])").wait_for()
    seen = await facts(host, HOST_SELECTORS)
    assert seen["scrollY"] == 0 and all(seen["inside"].values()), seen
    assert await host.text_content("#recording-button") == "停止录像"
    # On a phone the panel is a closed sheet: the videos come first.
    assert not await host.locator("#host-panel").is_visible()

    await party.goto(invite_url.removeprefix(live_server.url))
    party_pid = await pass_selftest_and_join(party, "张三")
    await host.locator("#toast:not([hidden])").wait_for()
    await host.locator("#panel-badge:not([hidden])").wait_for()
    assert (await host.text_content("#panel-badge") or "").strip() == "1"

    # The sheet opens from the control bar; its controls are thumb-sized, deny apart.
    await host.click("#panel-toggle")
    admit = f"#host-panel button[data-action=admit][data-pid='{party_pid}']"
    deny = f"#host-panel button[data-action=deny][data-pid='{party_pid}']"
    await host.locator(admit).wait_for()
    assert await gap_between(host, admit, deny) >= 8
    assert await small_tap_targets(host, "#screen-room") == []
    await asks_first(host, deny)
    await host.click(admit)
    await wait_place(party, "main")
    await wait_playing(host, {party_pid})
    assert await small_tap_targets(host, "#screen-room") == []
    await host.click("#panel-toggle")
    assert not await host.locator("#host-panel").is_visible()

    seen = await facts(host, HOST_SELECTORS)
    assert all(seen["inside"].values()), seen
    assert seen["badge"] and not seen["badgeOverTile"], seen
    assert await small_tap_targets(host, "#screen-room") == []
    # Stop recording asks in the page too.
    await asks_first(host, "#recording-button")
    assert await host.text_content("#recording-button") == "停止录像"

    # The party's desktop without a panel: the tiles take the screen.
    seen = await facts(party, ["#control-bar"])
    assert all(seen["inside"].values()), seen
    assert seen["tiles"] == 2 and seen["coverage"] > 0.5, seen

    # A screen shared is the largest tile on the host's phone.
    await party.click("#screen-button")
    await host.wait_for_selector("#tiles .tile[data-source=screen].featured")
    assert (await featured_tile(host))["source"] == "screen"

    for page in (host, party):
        await page.context.close()


async def test_room_layout_firefox_desktop(
    media_browser: Browser,
    firefox: Path,
    live_server: LiveServer,
    live_user: LiveUser,
    tmp_path: Path,
) -> None:
    sid, invite_url = await seed(live_server, live_user)
    host, host_pid = await host_joins(media_browser, live_server, sid, DESKTOP)
    async with launch(tmp_path / "ff") as browser:
        party = await browser.new_tab(live_server.url, DESKTOP["viewport"])
        await party.goto(invite_url.removeprefix(live_server.url))
        party_pid = await firefox_party_joins(party, "张三")
        await wait_place(party, None)
        await host.click(f"#host-panel button[data-action=admit][data-pid='{party_pid}']")
        await wait_place(party, "main")
        await wait_playing(party, {host_pid})
        seen = await facts(party, ["#control-bar", "#room-name"])
        assert (seen["vw"], seen["vh"]) == (1366, 768), seen
        assert all(seen["inside"].values()), seen
        assert seen["tiles"] == 2 and seen["coverage"] > 0.5, seen
        assert seen["badge"] and not seen["badgeOverTile"], seen
        await party.close()
    await host.context.close()
