"""Three real headless Chromium browsers in one live session: a mediator (host), street-office
staff and a party by invite link. They pass the self-test and the lobby, see each other's
video playing, a caucus move cuts media between the rooms, and a dropped connection comes
back on its own. Screenshots of the pre-join page, the lobby and the room go to /tmp."""

from __future__ import annotations

from playwright.async_api import Browser

from server.models.sessions import MediationSession
from server.web.keys import SESSIONMAKER
from tests.e2e.conftest import SCREENSHOT_DIR, LiveServer, LiveUser, log_in
from tests.e2e.sessions import (
    open_page,
    pass_selftest_and_join,
    seed,
    self_test_passes,
    wait_place,
    wait_playing,
)


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
    await host.click("#confirm-yes")  # the page asks first (room_layout.js)
    for page in (host, staff, party):
        await page.wait_for_selector("#screen-ended:not([hidden])")
    async with live_server.app[SESSIONMAKER]() as db:
        assert (await db.get(MediationSession, sid)).status == "ended"
