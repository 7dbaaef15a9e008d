"""The product outside the room on a 375x812 touch screen (issue 14 item 5), in real Chromium
with device emulation, on the real demo (``run_demo``, tests/e2e/demo_world.py):

- pre-join, by a party's invite link and as the host: the self-test preview, the name field
  and 加入会话 all on the first screen without scrolling, every control at least 44x44 px;
- menus and buttons: no label broken inside a Chinese word (案/件, 网上/接待, 调解协/议, 主/持人)
  on the staff pages (docket, schedule, reports, the case page, ...) and the party pages, nor
  a case number in a list ("（2026）" / "晋0303民诉前调127号");
- no page wider than the phone: wide tables scroll inside their own container.

A label "broken inside a word" is measured, not looked at: a label with no space in its text
must lay out on one line (every line box of its text at the same height).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from tests.e2e.conftest import LiveServer, log_in
from tests.e2e.demo_world import (
    PASSWORDS,
    STAFF,
    STAFF_PASSWORD,
    Demo,
    add_documents,
    seed_demo,
    serve,
)
from tests.e2e.sessions import self_test_passes
from tests.e2e.viewports import PHONE, box_inside_viewport, open_at, small_tap_targets

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Demo:
    return seed_demo(tmp_path_factory.mktemp("phone-demo") / "var", sqlite_template)


@pytest.fixture
async def server(tmp_path: Path, demo: Demo) -> AsyncIterator[LiveServer]:
    async with serve(tmp_path / "var", demo) as live:
        await add_documents(live, demo)
        yield live


# Labels (menu entries, buttons, tabs, badges) whose text has no space, laid out on more than
# one line: a line box of the label's text starts lower than the first by most of a line.
BROKEN_LABELS = """() => {
  const labels = document.querySelectorAll(
    'header a, nav a, button, .button, input[type=submit], summary, .badge, .case-no');
  const broken = [];
  for (const el of labels) {
    const text = el.textContent.trim();
    if (!text || /\\s/.test(text) || !el.getClientRects().length) continue;
    const range = document.createRange();
    range.selectNodeContents(el);
    const lines = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0);
    if (!lines.length) continue;
    const first = Math.min(...lines.map(r => r.top));
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (lines.some(r => r.top - first > size * 0.8)) broken.push(text);
  }
  return broken;
}"""

# How much wider than the screen the page is (0: no sideways scrolling of the page).
PAGE_OVERFLOW = """() => document.documentElement.scrollWidth
    - document.documentElement.clientWidth"""


async def layout_faults(page: Page, path: str) -> list[str]:
    """Open ``path`` and list what is wrong with it on the phone: broken labels, overflow."""
    response = await page.goto(path)
    assert response is not None and response.status == 200, (path, response)
    await page.wait_for_load_state("load")
    faults = [f"{path}: label broken inside a word: {text}" for text in
              await page.evaluate(BROKEN_LABELS)]  # fmt: skip
    overflow = await page.evaluate(PAGE_OVERFLOW)
    if overflow > 0:
        faults.append(f"{path}: the page is {overflow}px wider than the screen")
    return faults


async def _prejoin_as(browser: Browser, server: LiveServer, demo: Demo, who: str) -> Page:
    page = await open_at(browser, server, PHONE)
    if who == "host":
        await log_in(page, "mediator", PASSWORDS["mediator"])
        await page.goto(f"/sessions/{demo.session_id}/join")
    else:
        await page.goto(f"/join/{demo.party_tokens[0][1]}")
    await self_test_passes(page)
    return page


@pytest.mark.parametrize("who", ["party", "host"])
async def test_prejoin_fits_the_first_screen(
    media_browser: Browser, server: LiveServer, demo: Demo, who: str
):
    page = await _prejoin_as(media_browser, server, demo, who)
    assert await page.evaluate("() => window.scrollY") == 0
    # What a person needs before joining is on the first screen: their own picture (small),
    # the self-test's verdict, the recording notice, their name (a party) and the button.
    needed = ["#preview", "#selftest-result", "#recording-notice", "#join-button"]
    if who == "party":
        needed.append("#party-name")
    outside = [sel for sel in needed if not await box_inside_viewport(page, sel)]
    assert not outside, f"{who}: below the first screen at 375x812: {outside}"
    # Every control a thumb may need is at least 44x44 px.
    small = await small_tap_targets(page, "body")
    assert not small, f"{who}: controls smaller than 44x44 px: {small}"
    assert await page.evaluate(PAGE_OVERFLOW) <= 0
    await page.context.close()


def staff_paths(demo: Demo) -> dict[str, list[str]]:
    case = f"/cases/{demo.case_id}"
    return {
        "clerk": ["/cases", case, f"{case}/sessions", f"{case}/agreement", "/reports",
                  "/schedule/center", "/agreements"],
        "mediator": ["/schedule/my", f"/sessions/{demo.session_id}"],
        STAFF: ["/schedule", "/schedule/availability", "/reports", "/intake"],
    }  # fmt: skip


async def test_staff_pages_on_a_phone(browser: Browser, server: LiveServer, demo: Demo):
    faults: list[str] = []
    for username, paths in staff_paths(demo).items():
        page = await open_at(browser, server, PHONE)
        await log_in(page, username, STAFF_PASSWORD if username == STAFF else PASSWORDS[username])
        for path in paths:
            faults += await layout_faults(page, path)
        await page.context.close()
    assert not faults, "\n".join(faults)


async def test_party_and_public_pages_on_a_phone(
    media_browser: Browser, server: LiveServer, demo: Demo
):
    token = demo.party_tokens[0][1]
    faults: list[str] = []
    page = await open_at(media_browser, server, PHONE)
    for path in [f"/join/{token}", f"/sign/{token}", "/intake", "/intake/track", "/login"]:
        faults += await layout_faults(page, path)
    await page.context.close()
    assert not faults, "\n".join(faults)
