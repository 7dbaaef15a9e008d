"""Joint mediation (联调) in real headless Chromium: the host invites a police officer of the
local station by a guest link; the officer joins from their own browser, waits in the lobby
and is admitted; every tile and the roster name them "name · unit · role"; the host lets
them into private rooms, moves them into a caucus and back; the guest's page offers no case
file upload and no agreement panel."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.e2e.conftest import SCREENSHOT_DIR, LiveServer, LiveUser
from tests.e2e.sessions import (
    host_in_main,
    host_moves,
    open_page,
    pass_selftest_and_join,
    seed,
    wait_place,
    wait_playing,
)

OFFICER = "李警官 · 平潭派出所 · 民警"


async def test_a_guest_joins_with_unit_and_role_and_the_host_decides_on_caucus(
    media_browser: Browser, live_server: LiveServer, live_user: LiveUser
) -> None:
    sid, _invite = await seed(live_server, live_user)
    refused: list[str] = []
    host, host_pid = await host_in_main(media_browser, live_server, refused, sid)
    token = await host.evaluate("() => document.querySelector('meta[name=csrf-token]').content")
    made = await host.request.post(
        f"/api/v1/sessions/{sid}/guests",
        data={"name": "李警官", "organisation": "平潭派出所", "role": "police"},
        headers={"X-CSRF-Token": token},
    )
    assert made.status == 201, await made.text()
    link = (await made.json())["invite"]["url"]

    guest = await open_page(media_browser, live_server, refused)
    await guest.goto(link.removeprefix(live_server.url))
    named = await guest.locator("#party-name").count()
    guest_pid = await pass_selftest_and_join(guest, "李警官" if named else None)
    await wait_place(guest, None)
    await host.click(f"#host-panel button[data-action=admit][data-pid='{guest_pid}']")
    await wait_place(guest, "main")
    await wait_playing(host, {guest_pid})
    await wait_playing(guest, {host_pid})
    await host.wait_for_function(
        "(label) => document.getElementById('host-panel').textContent.includes(label)",
        arg=OFFICER,
    )
    await host.wait_for_function(
        "(label) => [...document.querySelectorAll('#tiles figcaption')]"
        ".some(c => c.textContent.includes(label))",
        arg=OFFICER,
    )
    await host.screenshot(path=str(SCREENSHOT_DIR / "room-guest-tile.png"))
    # The panel's counts and the host's own row read in Chinese brackets: 主会场（2）.
    panel = await host.locator("#host-panel").text_content() or ""
    assert "主会场（2）" in panel and "（我）" in panel and " (" not in panel, panel
    # Nothing of the case file or the agreement for a guest.
    for hidden in ("#party-files", "#document-show"):
        assert await guest.locator(hidden).count() == 0, hidden
    assert await guest.locator("#agreement-panel").is_hidden()

    # The host lets them into private rooms, then moves them into a caucus and back.
    allow = f"#host-panel button[data-action='guest.caucus'][data-pid='{guest_pid}']"
    await host.click(allow)
    await host.wait_for_selector(f"{allow}[data-allow=false]")
    await host_moves(host, guest_pid, "caucus-a")
    await wait_place(guest, "caucus-a")
    await host_moves(host, guest_pid, "main")
    await wait_place(guest, "main")
    assert refused == []
