"""The room explains itself to a resident (issue 14 items 1 and 3), in real browsers.

A mediator (desktop Chromium) and two parties by invite link: 张三 on a phone-sized page
(375x812, touch), 李四 on a desktop-sized one (1366x768). Each waits in the lobby and is told
so, with the time waited; in a caucus the party taken aside is told the mediator is speaking
with them privately and who is in the room, and the party left in the main room is told to
wait while the mediator speaks with the other side, with the time waited. When the mediator
shows the agreement, the phone gets a sheet over the videos on its first screen and the
desktop a panel beside them; the call goes on underneath (the remote video keeps playing),
the whole text is in the page's own flow (no inner scroll box), and "返回视频" goes back.
Firefox (desktop size) shows the caucus and waiting explanations too.

The host's moves go straight over the signaling socket (``window.courtlink.signal``): this
test is about what the parties see, not the host panel's markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page
from sqlalchemy import select

from server.agreements import drafting
from server.agreements.terms import Terms
from server.models.accounts import Office
from server.models.docket import Case, Party
from server.sessions import create_invite, create_session
from tests.e2e.conftest import SCREENSHOT_DIR, LiveServer, LiveUser, log_in, require_program
from tests.e2e.firefox import FIREFOX, launch
from tests.e2e.sessions import (
    FRAMES_RISING,
    Driver,
    firefox_party_joins,
    host_moves,
    host_sends,
    pass_selftest_and_join,
    wait_place,
    wait_playing,
)
from tests.e2e.viewports import (
    DESKTOP,
    PHONE,
    box_inside_viewport,
    box_of,
    inner_scrollers,
    open_at,
)
from tests.helpers import unit

# The notice's text once it says `words` and a waited time ("已等待 … 秒").
NOTICE_SAYS = """([sel, words]) => { const el = document.querySelector(sel);
    return !!el && el.offsetParent !== null && words.every(w => el.textContent.includes(w))
        && /已等待.*\\d+\\s*秒/.test(el.textContent) ? el.textContent : null; }"""
# The same without a waited time.
NOTICE_HAS = """([sel, words]) => { const el = document.querySelector(sel);
    return !!el && el.offsetParent !== null && words.every(w => el.textContent.includes(w))
        ? el.textContent : null; }"""


async def seed_two(server: LiveServer, live_user: LiveUser) -> tuple[int, str, str]:
    """A mediation case with both parties invited and a drafted agreement: the session id and
    the two invite paths (张三's, 李四's)."""
    med = await live_user("med", "mediator", display_name="王调解员")
    async with unit(server.app, med) as ctx:
        db = ctx.db
        office = await db.scalar(select(Office).where(Office.code == "pingtan"))
        assert office is not None
        case = Case(number="（2026）晋0303民诉前调31号", cause="民间借贷纠纷",
                    office_id=office.id, mediator_id=med.id,
                    stage="pre_litigation_mediation", was_pre_litigation=True)  # fmt: skip
        case.parties = [Party(side="applicant", name="张三"), Party(side="respondent", name="李四")]
        db.add(case)
        await db.flush()
        await db.refresh(case, ["parties", "mediator", "office"])
        terms = Terms.model_validate({
            "obligations": [{"obligor_party_id": case.parties[1].id,
                             "obligee_party_id": case.parties[0].id, "action": "pay",
                             "description": "借款", "amount_fen": 3_000_000,
                             "due_date": "2026-12-31", "method": "bank_transfer"}],
            "clauses": ["双方就本纠纷再无其他争议。"] * 12,  # a long text: taller than a phone
        })  # fmt: skip
        await drafting.create(ctx, case, terms)
        session = await create_session(ctx, case, kind="mediation")
        _a, url_a = await create_invite(ctx, session, case.parties[0])
        _b, url_b = await create_invite(ctx, session, case.parties[1])
    return session.id, url_a.removeprefix(server.url), url_b.removeprefix(server.url)


async def at(browser: Browser, server: LiveServer, size: dict[str, Any]) -> Page:
    """A page at ``size``, patient: three browsers with real media share two cores here."""
    page = await open_at(browser, server, size)
    page.set_default_timeout(60_000)
    return page


async def others(page: Page) -> set[str]:
    """The pids the page's roster shows with it in its room now (a connection that failed
    under load comes back as a new pid: the roster knows, the test's old pids may not)."""
    pids: list[str] = await page.evaluate(
        """() => { const s = window.courtlink.state;
            return s.people.filter(p => p.connected && p.place === s.you.place
                                        && p.pid !== s.you.pid).map(p => p.pid); }"""
    )
    return set(pids)


async def notice(page: Driver, words: list[str], *, waited: bool, sel: str = "#room-notice") -> str:
    text: str = await page.wait_for_function(
        NOTICE_SAYS if waited else NOTICE_HAS, arg=[sel, words], polling=250
    )
    return text


async def test_states_explained_and_agreement_sheet(
    media_browser: Browser, live_server: LiveServer, live_user: LiveUser
) -> None:
    sid, link_a, link_b = await seed_two(live_server, live_user)
    host = await at(media_browser, live_server, DESKTOP)
    phone = await at(media_browser, live_server, PHONE)
    desk = await at(media_browser, live_server, DESKTOP)
    await log_in(host, "med")
    await host.goto(f"/sessions/{sid}/join")
    host_pid = await pass_selftest_and_join(host)
    await wait_place(host, "main")

    # The lobby: waiting to be admitted, by whom, for how long.
    await phone.goto(link_a)
    pid_a = await pass_selftest_and_join(phone, "张三")
    await wait_place(phone, None)
    await notice(phone, ["王调解员", "准许"], waited=True, sel="#screen-lobby")
    assert await box_inside_viewport(phone, "#lobby-waited")
    await desk.goto(link_b)
    pid_b = await pass_selftest_and_join(desk, "李四")
    await wait_place(desk, None)
    for pid in (pid_a, pid_b):
        await host_sends(host, type="admit", pid=pid)
    await wait_place(phone, "main")
    await wait_place(desk, "main")
    await wait_playing(phone, {host_pid, pid_b})

    # Caucus: 张三 and the mediator in private room 1; 李四 waits in the main room.
    await host_moves(host, pid_a, "caucus-1")
    await host_moves(host, host_pid, "caucus-1")
    await wait_place(phone, "caucus-1")
    await notice(phone, ["调解员正在与您单独沟通", "王调解员", "张三"], waited=False)
    assert await box_inside_viewport(phone, "#room-notice")
    await notice(desk, ["调解员正在与另一方单独沟通，请稍候"], waited=True)
    assert await box_inside_viewport(desk, "#room-notice")
    await phone.screenshot(path=str(SCREENSHOT_DIR / "room-states-caucus-phone.png"))
    await desk.screenshot(path=str(SCREENSHOT_DIR / "room-states-waiting-desktop.png"))

    # Back together; the mediator shows the agreement.
    pid_a = await phone.evaluate("() => window.courtlink.welcome.pid")
    host_pid = await host.evaluate("() => window.courtlink.welcome.pid")
    await host_moves(host, pid_a, "main")
    await host_moves(host, host_pid, "main")
    await wait_place(phone, "main")
    await wait_place(host, "main")
    await phone.wait_for_function("() => window.courtlink.state.people.length === 3")
    await desk.wait_for_function("() => window.courtlink.state.people.length === 3")
    await wait_playing(phone, await others(phone))
    await wait_playing(desk, await others(desk))
    await host.locator("#agreement-show").click()

    # The phone: a sheet over the videos, on the first screen, the call still on.
    sheet = "#agreement-panel"
    await phone.locator(f"{sheet}[data-open]").wait_for()
    await phone.frame_locator("#agreement-frame").locator("text=调解协议书").first.wait_for()
    for part in ("#agreement-close", "#agreement-panel h2"):
        assert await box_inside_viewport(phone, part), part
    # Over the videos: as wide as the tiles, from the room's top down past them.
    cover, tiles = await box_of(phone, sheet), await box_of(phone, "#tiles")
    assert cover["x"] <= tiles["x"] + 0.5 and cover["width"] >= tiles["width"] - 0.5
    assert cover["y"] <= tiles["y"] and cover["y"] + cover["height"] >= tiles["y"] + tiles["height"]
    await assert_call_goes_on(phone, await others(phone))
    await assert_in_page_flow(phone)
    await phone.screenshot(path=str(SCREENSHOT_DIR / "room-states-agreement-phone.png"))
    await phone.locator("#agreement-close").tap()
    await phone.locator(f"{sheet}:not([data-open])").wait_for(state="attached")
    remote = "video.remote >> nth=0"
    assert await box_inside_viewport(phone, remote)

    # The desktop: a panel beside the videos, on the first screen, the call still on.
    await desk.locator(f"{sheet}[data-open]").wait_for()
    await desk.frame_locator("#agreement-frame").locator("text=调解协议书").first.wait_for()
    panel, tiles = await box_of(desk, sheet), await box_of(desk, "#tiles")
    assert panel["x"] >= tiles["x"] + tiles["width"] - 0.5, (panel, tiles)
    assert await box_inside_viewport(desk, "#agreement-panel h2")
    assert await box_inside_viewport(desk, remote)
    await assert_call_goes_on(desk, await others(desk))
    await assert_in_page_flow(desk)
    await desk.screenshot(path=str(SCREENSHOT_DIR / "room-states-agreement-desktop.png"))
    await desk.locator("#agreement-close").click()
    await desk.locator(f"{sheet}:not([data-open])").wait_for(state="attached")
    # Closed, it can be opened again from the notice.
    await desk.locator("#agreement-reopen").click()
    await desk.locator(f"{sheet}[data-open]").wait_for()

    # The end says so, and what comes next.
    await host_sends(host, type="end")
    for page in (phone, desk):
        await page.wait_for_selector("#screen-ended:not([hidden])")
        assert "法院" in await page.locator("#ended-next").inner_text()
    for page in (host, phone, desk):
        await page.context.close()


async def assert_call_goes_on(page: Page, pids: set[str]) -> None:
    """Every remote video is still there, not paused, and its frames keep rising."""
    paused = await page.evaluate(
        "() => [...document.querySelectorAll('video.remote')].map(v => v.paused)"
    )
    assert paused and not any(paused), paused
    shown = await page.evaluate(
        """() => [...document.querySelectorAll('video.remote[data-source=camera]')].map(v =>
             ({pid: v.dataset.pid, frames: v.getVideoPlaybackQuality().totalVideoFrames}))"""
    )
    got = {v["pid"]: v["frames"] for v in shown}
    assert set(got) == pids, got
    await page.wait_for_function(f"([before]) => ({FRAMES_RISING})(before)", arg=[got])


async def assert_in_page_flow(page: Page) -> None:
    """No inner scroll box in the panel, and the document frame as tall as its text."""
    assert await inner_scrollers(page, "#agreement-panel") == []
    await page.wait_for_function(
        """() => { const f = document.getElementById('agreement-frame');
            const d = f.contentDocument && f.contentDocument.documentElement;
            return d && d.scrollHeight > 300 && f.clientHeight >= d.scrollHeight - 1; }"""
    )


@pytest.fixture
def firefox() -> Path:
    require_program(FIREFOX, "firefox-esr")
    return FIREFOX


async def test_firefox_desktop_caucus_and_waiting(
    media_browser: Browser,
    firefox: Path,
    live_server: LiveServer,
    live_user: LiveUser,
    tmp_path: Path,
) -> None:
    """Firefox at 1366x768: waiting in the main room while the mediator is in a private room
    (with the time waited), then taken into the caucus (who is there); the mediator gone."""
    sid, link_a, _link_b = await seed_two(live_server, live_user)
    host = await at(media_browser, live_server, DESKTOP)
    await log_in(host, "med")
    await host.goto(f"/sessions/{sid}/join")
    host_pid = await pass_selftest_and_join(host)
    await wait_place(host, "main")
    async with launch(tmp_path / "ff") as browser:
        party = await browser.new_tab(live_server.url, DESKTOP["viewport"])
        await party.goto(link_a)
        pid = await firefox_party_joins(party, "张三")
        await wait_place(party, None)
        await notice(party, ["王调解员"], waited=True, sel="#screen-lobby")
        await host_sends(host, type="admit", pid=pid)
        await wait_place(party, "main")
        await host_moves(host, host_pid, "caucus-1")
        await notice(party, ["调解员正在与另一方单独沟通，请稍候"], waited=True)
        await host_moves(host, pid, "caucus-1")
        await wait_place(party, "caucus-1")
        await notice(party, ["调解员正在与您单独沟通", "王调解员", "张三"], waited=False)
        await party.screenshot(str(SCREENSHOT_DIR / "room-states-caucus-firefox.png"))
        # The mediator leaves: the party is told to stay, with the time waited.
        await host_sends(host, type="leave")
        await notice(party, ["调解员暂时离开或网络中断"], waited=True)
    await host.context.close()
