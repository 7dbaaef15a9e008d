"""Issue 14's "done when": a resident's whole path on a phone-sized screen, by touch.

The mediator hosts on a desktop-size page (1366x768); the resident (张三) has only a phone
(375x812, mobile, touch) and the invite link; the other side (李四) joins from a desktop. Every
resident action is a tap (``locator.tap()``), the name is typed into the field, and the
signature is a finger's stroke on the pad (touch events through the DevTools protocol, which
the page sees as pointer events of type "touch"). The path: invite link -> pre-join -> lobby
-> admitted into the room (the host's video playing) -> the other side taken into a private
room (the resident is told to wait) -> the resident taken into a private room with the
mediator (told so) -> back -> the agreement shown (on the resident's first screen) -> the
signing page -> signed, with the confirmation on screen and the ink stored.

At each step the test asserts what the resident sees: the key words and that the element is
on the first screen (inside the viewport, not under a sticky bar), not somewhere below it;
the misses are collected and asserted at the end, so one run names every screen that is off.
The mediator admits from the host panel; the caucus moves are the protocol messages the
panel sends (its markup is test_room_layout's part). People are found by name, since a
connection dropped and resumed on a loaded machine comes back with a new pid.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.async_api import Browser, Page
from sqlalchemy import select

from server.models.agreements import AgreementSignature
from server.models.docket import Party
from server.sessions import create_invite, create_session
from server.web.keys import SESSIONMAKER
from tests.agreement_helpers import drafted_loan_case
from tests.e2e.conftest import SCREENSHOT_DIR, LiveServer, LiveUser, log_in
from tests.e2e.firefox import Tab, launch
from tests.e2e.sessions import (
    firefox_party_joins,
    host_moves,
    pass_selftest_and_join,
    pid_of,
    playing,
    self_test_passes,
    wait_place,
    wait_playing,
)
from tests.e2e.touch import sign_by_finger, tap_to_sign
from tests.e2e.viewports import DESKTOP, PHONE, box_inside_viewport, open_at
from tests.helpers import unit

pytestmark = pytest.mark.e2e

# Media steps (self-test, ICE, first frames) on a shared two-core machine.
SLOW = 45_000


async def _world(server: LiveServer, live_user: LiveUser) -> tuple[int, str, str]:
    """A pre-litigation case of 张三 against 李四 at the 沙坪 street office, its agreement
    drafted by the mediator (version 1, ready to sign), a session and both parties' invite
    links: (session id, 张三's link path, 李四's link path)."""
    mediator = await live_user("med", "mediator", display_name="王调解")
    async with unit(server.app, mediator) as ctx:
        case = await drafted_loan_case(ctx, mediator, "（2026）晋0303民诉前调31号")
        session = await create_session(ctx, case, kind="mediation")
        _inv, resident_url = await create_invite(ctx, session, case.parties[0])
        _inv, other_url = await create_invite(ctx, session, case.parties[1])
    return session.id, resident_url.removeprefix(server.url), other_url.removeprefix(server.url)


# Layout facts the path found false: collected, so that one run names every screen where
# something is off the first screen, and asserted empty at the end of the path.
OffScreen = list[str]


# What covers the element at its centre (a sticky bar, a sheet), if anything: the element on
# top there when it is neither the element nor inside it.
COVERED_BY = """(el) => { const r = el.getBoundingClientRect();
  const top = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
  return !top || el.contains(top) ? null
    : top.tagName.toLowerCase() + (top.id ? '#' + top.id : '')
      + [...top.classList].map(c => '.' + c).join(''); }"""


async def on_first_screen(page: Page, selector: str, off: OffScreen) -> None:
    """The element is shown; noted in ``off`` unless wholly inside the viewport as the page
    stands (a tap would scroll to it, a resident might never look there) and not covered by
    something else (a sticky bar over a sheet's heading hides it as well as the fold)."""
    locator = page.locator(selector).first
    await locator.wait_for(state="visible")
    if not await box_inside_viewport(page, locator):
        off.append(f"{selector} at {await locator.bounding_box()} in {page.viewport_size}")
    elif cover := await locator.evaluate(COVERED_BY):
        off.append(f"{selector} at {await locator.bounding_box()} is under {cover}")


async def sees_text(page: Page, selector: str, off: OffScreen, *words: str) -> str:
    """The element is shown (on the first screen, or noted in ``off``) and says every one
    of ``words``."""
    await on_first_screen(page, selector, off)
    locator = page.locator(selector).first
    for word in words:
        await page.wait_for_function(
            "([s, w]) => (document.querySelector(s)?.innerText || '').includes(w)",
            arg=[selector, word],
        )
    return await locator.inner_text()


async def test_resident_path_on_a_phone_by_touch(
    media_browser: Browser, live_server: LiveServer, live_user: LiveUser
) -> None:
    sid, resident_link, other_link = await _world(live_server, live_user)
    host = await open_at(media_browser, live_server, DESKTOP)
    resident = await open_at(media_browser, live_server, PHONE)
    other = await open_at(media_browser, live_server, DESKTOP)
    for page in (host, resident, other):
        page.set_default_timeout(SLOW)
    off: OffScreen = []  # what the resident would have had to scroll to

    # The mediator is in the main room; 李四 joins from a desktop and is let in.
    await log_in(host, "med")
    await host.goto(f"/sessions/{sid}/join")
    await pass_selftest_and_join(host)
    await wait_place(host, "main")
    await other.goto(other_link)
    other_pid = await pass_selftest_and_join(other, "李四")
    await wait_place(other, None)
    await host.click(f"#host-panel button[data-action=admit][data-pid='{other_pid}']")
    await wait_place(other, "main")

    # Invite link -> pre-join: the name field and the join button on the first screen.
    await resident.goto(resident_link)
    await self_test_passes(resident)
    await on_first_screen(resident, "#party-name", off)
    await on_first_screen(resident, "#join-button", off)
    await resident.locator("#party-name").fill("张三")
    await resident.locator("#join-button").tap()
    await resident.screenshot(path=str(SCREENSHOT_DIR / "resident-phone-1-lobby.png"))

    # Lobby: told who they wait for.
    await wait_place(resident, None)
    await sees_text(resident, "#lobby-text", off, "王调解")
    resident_pid: str = await resident.evaluate("() => window.courtlink.welcome.pid")

    # Admitted: in the main room, the mediator's and 李四's video playing, controls at hand.
    await host.click(f"#host-panel button[data-action=admit][data-pid='{resident_pid}']")
    await wait_place(resident, "main")
    await playing(resident, {"王调解", "李四"})
    await on_first_screen(resident, "#control-bar", off)
    await on_first_screen(
        resident, f"video.remote[data-pid='{await pid_of(resident, '王调解')}']", off
    )
    await resident.screenshot(path=str(SCREENSHOT_DIR / "resident-phone-2-room.png"))

    # The mediator takes 李四 aside: the resident, left in the main room, is told to wait.
    await host_moves(host, await pid_of(host, "李四"), "caucus-1")
    await wait_place(other, "caucus-1")
    await host_moves(host, await pid_of(host, "王调解"), "caucus-1")
    await wait_place(host, "caucus-1")
    await sees_text(resident, "#room-notice", off, "调解员正在与另一方单独沟通，请稍候")
    await resident.screenshot(path=str(SCREENSHOT_DIR / "resident-phone-3-waiting.png"))
    await host_moves(host, await pid_of(host, "王调解"), "main")
    await wait_place(host, "main")
    await host_moves(host, await pid_of(host, "李四"), "main")
    await wait_place(other, "main")

    # Now the resident's turn in a private room with the mediator: told so, and sees them.
    await host_moves(host, await pid_of(host, "张三"), "caucus-2")
    await wait_place(resident, "caucus-2")
    await host_moves(host, await pid_of(host, "王调解"), "caucus-2")
    await wait_place(host, "caucus-2")
    await playing(resident, {"王调解"})
    await sees_text(resident, "#room-notice", off, "调解员正在与您单独沟通", "王调解")
    await resident.screenshot(path=str(SCREENSHOT_DIR / "resident-phone-4-caucus.png"))

    # Back in the main room with everyone.
    await host_moves(host, await pid_of(host, "王调解"), "main")
    await host_moves(host, await pid_of(host, "张三"), "main")
    await wait_place(resident, "main")
    await playing(resident, {"王调解", "李四"})
    await on_first_screen(resident, "#control-bar", off)

    # The mediator shows the agreement: it is on the resident's first screen, with the link.
    await host.locator("#agreement-show").click()
    await resident.locator("#agreement-panel[data-open]").wait_for()
    await on_first_screen(resident, "#agreement-panel h2", off)
    await on_first_screen(resident, "#agreement-close", off)
    await resident.frame_locator("#agreement-frame").locator("text=调解协议书").first.wait_for()
    await resident.screenshot(path=str(SCREENSHOT_DIR / "resident-phone-5-agreement.png"))

    # The resident opens the signing page from the room, signs by finger, and is told so.
    async with resident.context.expect_page() as opened:
        await resident.locator("#agreement-sign-link").tap()
    signing = await opened.value
    signing.set_default_timeout(SLOW)
    await signing.wait_for_load_state("load")
    await signing.locator("text=调解协议书").first.wait_for()
    await sign_by_finger(signing)
    await signing.locator("input[name=typed_name]").fill("张三")
    await tap_to_sign(signing)
    await sees_text(signing, "#sign-done h2", off, "您已签署本版本")
    assert "接下来" in await signing.locator("#sign-done").inner_text()
    await signing.screenshot(path=str(SCREENSHOT_DIR / "resident-phone-6-signed.png"))

    # The signature is the resident's, bound to the version shown, with the finger's ink.
    async with live_server.app[SESSIONMAKER]() as db:
        sig = await db.scalar(select(AgreementSignature))
        assert sig is not None and sig.typed_name == "张三"
        party = await db.get(Party, sig.party_id)
        assert party is not None and party.name == "张三"
        alpha = Image.open(io.BytesIO(sig.image_png)).convert("RGBA").getchannel("A")
        inked = alpha.width * alpha.height - alpha.histogram()[0]
        assert inked > 200, inked
    # Signing in its own tab left the call going.
    assert (
        await resident.evaluate("() => document.querySelector('#room-name').dataset.place")
        == "main"
    )
    assert not off, "not on the resident's first screen:\n" + "\n".join(off)
    for page in (host, resident, other):
        await page.context.close()


# For the Firefox tab (no Playwright locators there): whether each selector's element is
# shown and wholly inside the viewport, and the room notice's text.
ROOM_SEEN = """(selectors) => {
  const vw = window.innerWidth, vh = window.innerHeight, inside = {};
  for (const s of selectors) {
    const el = document.querySelector(s), r = el && el.getBoundingClientRect();
    inside[s] = !!r && r.width > 0 && r.height > 0 && r.x >= -0.5 && r.y >= -0.5
      && r.x + r.width <= vw + 0.5 && r.y + r.height <= vh + 0.5;
  }
  const notice = document.getElementById('room-notice');
  return { vw, vh, inside, notice: notice && notice.offsetParent ? notice.textContent : '' };
}"""


async def firefox_sees(tab: Tab, words: str, selectors: list[str]) -> dict[str, Any]:
    """Once the room notice says ``words`` (any notice, or none, with ""): every selector's
    element inside the 1366x768 viewport."""
    seen: dict[str, Any] = await tab.wait_for_function(
        f"(args) => {{ const s = ({ROOM_SEEN})(args[0]);"
        " return s.notice.includes(args[1]) ? s : null; }",
        [selectors, words],
    )
    assert (seen["vw"], seen["vh"]) == (1366, 768), seen
    assert all(seen["inside"].values()), seen
    return seen


async def test_resident_room_in_firefox_at_desktop_size(
    media_browser: Browser,
    firefox: Path,
    live_server: LiveServer,
    live_user: LiveUser,
    tmp_path: Path,
) -> None:
    """The resident's room in Firefox at 1366x768 through the path's states: in the main room,
    in a private room with the mediator (the notice says so), back, and with the agreement
    shown beside the videos. In every one the control bar and the mediator's video stay on
    the first screen. (Waiting while others are in a private room, in Firefox, is
    test_room_states' part.)"""
    sid, resident_link, _other = await _world(live_server, live_user)
    host = await open_at(media_browser, live_server, DESKTOP)
    host.set_default_timeout(SLOW)
    await log_in(host, "med")
    await host.goto(f"/sessions/{sid}/join")
    host_pid = await pass_selftest_and_join(host)
    await wait_place(host, "main")
    async with launch(tmp_path / "ff") as browser:
        party = await browser.new_tab(live_server.url, DESKTOP["viewport"])
        await party.goto(resident_link)
        pid = await firefox_party_joins(party, "张三")
        await wait_place(party, None)
        await host.click(f"#host-panel button[data-action=admit][data-pid='{pid}']")
        await wait_place(party, "main")
        await wait_playing(party, {host_pid})
        video = f"video.remote[data-pid='{host_pid}']"
        await firefox_sees(party, "", ["#control-bar", "#room-name", video])

        await host_moves(host, pid, "caucus-1")
        await wait_place(party, "caucus-1")
        await host_moves(host, host_pid, "caucus-1")
        await wait_playing(party, {host_pid})
        await firefox_sees(party, "调解员正在与您单独沟通", ["#control-bar", "#room-notice", video])
        await party.screenshot(str(SCREENSHOT_DIR / "resident-firefox-caucus.png"))

        await host_moves(host, host_pid, "main")
        await host_moves(host, pid, "main")
        await wait_place(party, "main")
        await wait_playing(party, {host_pid})
        await firefox_sees(party, "", ["#control-bar", video])

        # The agreement beside the videos: its heading, the control bar and the video in view.
        await host.locator("#agreement-show").click()
        await party.wait_for_selector("#agreement-panel[data-open]")
        await firefox_sees(party, "", ["#control-bar", "#agreement-panel h2", video])
        await party.screenshot(str(SCREENSHOT_DIR / "resident-firefox-agreement.png"))
        await party.close()
    await host.context.close()
