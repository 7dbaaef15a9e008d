"""Three real headless Chromium browsers in one live session: a mediator (host), street-office
staff and a party by invite link. They pass the self-test and the lobby, see each other's
video playing, a caucus move cuts media between the rooms, and a dropped connection comes
back on its own. Screenshots of the pre-join page, the lobby and the room go to /tmp."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy import select

from server.appkeys import SESSIONMAKER
from server.models.accounts import Office
from server.models.docket import Case, Party
from server.models.sessions import MediationSession
from server.sessions import create_invite, create_session
from tests.e2e.conftest import CHROMIUM_ARGS, SCREENSHOT_DIR, LiveServer, LiveUser, log_in

MEDIA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]

# How each page reports its remote videos: pid, size, frames decoded so far.
REMOTE_VIDEOS = """() => [...document.querySelectorAll('video.remote')].map(v => ({
    pid: v.dataset.pid, source: v.dataset.source, width: v.videoWidth,
    frames: v.getVideoPlaybackQuality().totalVideoFrames }))"""


@pytest.fixture
async def media_browser(chromium: Path) -> AsyncIterator[Browser]:
    """Chromium with a fake camera (test pattern) and microphone (beeps), permission granted."""
    async with async_playwright() as pw:
        instance = await pw.chromium.launch(
            executable_path=str(chromium), args=[*CHROMIUM_ARGS, *MEDIA_ARGS]
        )
        try:
            yield instance
        finally:
            await instance.close()


async def open_page(browser: Browser, server: LiveServer, refused: list[str]) -> Page:
    """A page in its own context; every offer the browser could not apply (media.js logs
    "answering the offer failed", e.g. Chrome's "Duplicate a=msid") is appended to
    ``refused``: a refused offer can go unnoticed when the next one repairs the picture."""
    context = await browser.new_context(
        base_url=server.url, locale="zh-CN", viewport={"width": 1280, "height": 860}
    )
    page = await context.new_page()
    page.set_default_timeout(30_000)
    page.on("dialog", lambda dialog: dialog.accept())

    def on_console(message: Any) -> None:
        if "answering the offer failed" in message.text:
            refused.append(message.text)

    page.on("console", on_console)
    return page


async def seed(server: LiveServer, live_user: LiveUser) -> tuple[int, str]:
    med = await live_user("med", "mediator", display_name="王调解员")
    await live_user("office", "office_staff", office="pingtan", display_name="平潭街工作人员")
    async with server.app[SESSIONMAKER]() as db:
        office = await db.scalar(select(Office).where(Office.code == "pingtan"))
        case = Case(cause="民间借贷纠纷", office_id=office.id, mediator_id=med.id,
                    stage="pre_litigation_mediation")  # fmt: skip
        case.parties = [Party(side="applicant", name="张三"), Party(side="respondent", name="李四")]
        db.add(case)
        await db.flush()
        await db.refresh(case, ["parties", "mediator", "office"])
        session = await create_session(db, med, case, kind="mediation")
        _inv, url = await create_invite(db, med, session, case.parties[0], settings=server.settings)
        await db.commit()
        return session.id, url


async def wait_place(page: Page, place: str | None) -> None:
    if place is None:
        await page.wait_for_selector("#screen-lobby:not([hidden])")
    else:
        await page.wait_for_selector(f"#room-name[data-place='{place}']")


async def videos(page: Page) -> list[dict[str, Any]]:
    return await page.evaluate(REMOTE_VIDEOS)


async def wait_playing(page: Page, pids: set[str]) -> None:
    """Every pid's camera video has a picture and its decoded-frame count keeps rising."""
    await page.wait_for_function(
        """(pids) => {
            const seen = [...document.querySelectorAll('video.remote[data-source=camera]')]
              .filter(v => v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 5);
            const got = new Set(seen.map(v => v.dataset.pid));
            return pids.every(p => got.has(p));
        }""",
        arg=sorted(pids),
        polling=250,
    )
    first = {v["pid"]: v["frames"] for v in await videos(page) if v["source"] == "camera"}
    await page.wait_for_function(
        """([before]) => [...document.querySelectorAll('video.remote[data-source=camera]')]
            .every(v => !(v.dataset.pid in before)
                   || v.getVideoPlaybackQuality().totalVideoFrames > before[v.dataset.pid] + 10)""",
        arg=[first],
        polling=250,
    )
    assert {v["pid"] for v in await videos(page) if v["source"] == "camera"} == pids


async def self_test_passes(page: Page) -> None:
    try:
        await page.locator("#selftest-result[data-result=pass]").wait_for(timeout=60_000)
    except Exception as exc:
        checks = await page.evaluate(
            "() => [...document.querySelectorAll('.checks li, #selftest-result')]"
            ".map(e => e.textContent)"
        )
        raise AssertionError(f"self-test did not pass: {checks}") from exc


async def pass_selftest_and_join(page: Page, name: str | None = None) -> str:
    await self_test_passes(page)
    if name is not None:
        await page.fill("#party-name", name)
    await page.click("#join-button")
    await page.wait_for_function("() => window.courtlink.welcome && window.courtlink.welcome.pid")
    pid: str = await page.evaluate("() => window.courtlink.welcome.pid")
    return pid


async def test_three_browsers_lobby_room_caucus_reconnect(
    media_browser: Browser, live_server: LiveServer, live_user: LiveUser
) -> None:
    sid, invite_url = await seed(live_server, live_user)
    refused: list[str] = []
    host = await open_page(media_browser, live_server, refused)
    staff = await open_page(media_browser, live_server, refused)
    party = await open_page(media_browser, live_server, refused)

    # The mediator opens the session page and joins: hosts go straight to the main room.
    await log_in(host, "med")
    await host.goto(f"/sessions/{sid}")
    await host.click("#join-link")
    await self_test_passes(host)
    await host.screenshot(path=str(SCREENSHOT_DIR / "session-prejoin.png"), full_page=True)
    host_pid = await pass_selftest_and_join(host)
    await wait_place(host, "main")

    # Office staff (own account, the case's office) and the party (link, no account) wait.
    await log_in(staff, "office")
    await staff.goto(f"/sessions/{sid}/join")
    staff_pid = await pass_selftest_and_join(staff)
    await wait_place(staff, None)
    await party.goto(invite_url.removeprefix(live_server.url))
    await self_test_passes(party)
    await party.fill("#party-name", "李四")  # the other party's name: refused
    await party.click("#join-button")
    await party.locator("#prejoin-error:not([hidden])").wait_for()
    party_pid = await pass_selftest_and_join(party, "张三")
    await wait_place(party, None)
    await party.wait_for_function(
        "() => document.getElementById('lobby-text').textContent.includes('王调解员')"
    )
    await party.screenshot(path=str(SCREENSHOT_DIR / "session-lobby.png"), full_page=True)

    # The host admits both from the lobby.
    for pid in (staff_pid, party_pid):
        await host.click(f"#host-panel button[data-action=admit][data-pid='{pid}']")
    await wait_place(staff, "main")
    await wait_place(party, "main")
    everyone = {host_pid, staff_pid, party_pid}
    for page, me in ((host, host_pid), (staff, staff_pid), (party, party_pid)):
        await wait_playing(page, everyone - {me})
    await host.screenshot(path=str(SCREENSHOT_DIR / "session-room.png"), full_page=True)
    await host.wait_for_selector("#quality[data-quality=good]")

    # Caucus: the party alone in private room 1. Media between the rooms stops both ways.
    await host.select_option(f"#host-panel select[data-action=move][data-pid='{party_pid}']",
                             "caucus-1")  # fmt: skip
    await wait_place(party, "caucus-1")
    await party.wait_for_function("() => !document.querySelector('video.remote')")
    for page in (host, staff):
        await page.wait_for_function(
            "(pid) => !document.querySelector(`video.remote[data-pid='${pid}']`)", arg=party_pid
        )
    await wait_playing(staff, {host_pid})
    # The host joins the party in the caucus room: they see each other, staff sees nobody.
    await host.click("#host-panel section[data-place='caucus-1'] button[data-action=move]")
    await wait_place(host, "caucus-1")
    await wait_playing(party, {host_pid})
    await wait_playing(host, {party_pid})
    await staff.wait_for_function("() => !document.querySelector('video.remote')")

    # Bring everyone back to the main room.
    await host.click(f"#host-panel button[data-action=move][data-pid='{party_pid}']")
    await host.click("#host-panel section[data-place='main'] button[data-action=move]")
    await wait_place(party, "main")
    await wait_place(host, "main")
    for page, me in ((host, host_pid), (staff, staff_pid), (party, party_pid)):
        await wait_playing(page, everyone - {me})

    # A forced drop: the staff browser's socket dies. It reconnects by itself, resumes its
    # place (no lobby) with a new peer connection, and the video plays again.
    await staff.evaluate("() => window.courtlink.signal.drop()")
    await staff.wait_for_selector("#conn-state[data-state=reconnecting]")
    await staff.wait_for_selector("#conn-state[data-state=connected]")
    assert await staff.evaluate("() => window.courtlink.welcome.resumed") is True
    await wait_place(staff, "main")
    new_staff_pid = await staff.evaluate("() => window.courtlink.welcome.pid")
    await wait_playing(staff, {host_pid, party_pid})
    await wait_playing(party, {host_pid, new_staff_pid})

    # Every offer was applied: the caucus moves reuse and idle m-lines (see test_sfu_msid).
    assert not refused, refused

    # The host ends the session: everyone sees the end.
    await host.click("#end-button")
    for page in (host, staff, party):
        await page.wait_for_selector("#screen-ended:not([hidden])")
    async with live_server.app[SESSIONMAKER]() as db:
        assert (await db.get(MediationSession, sid)).status == "ended"
