"""Screen sharing in real Chromium: a second video track from the same participant. The
mediator shares a screen, the party sees it beside the mediator's camera; the mediator stops,
the party's screen tile goes; sharing again brings it back, and stopping from the browser's
own bar ends it the same way."""

from __future__ import annotations

from playwright.async_api import Browser, Page

from tests.e2e.conftest import SCREENSHOT_DIR, LiveServer, LiveUser
from tests.e2e.sessions import (
    NO_SCREEN,
    SCREEN_PLAYING,
    host_in_main,
    open_page,
    pass_selftest_and_join,
    seed,
    wait_place,
    wait_playing,
)


async def share(page: Page, on: bool) -> None:
    await page.click("#screen-button")
    await page.wait_for_selector(f"#screen-button[aria-pressed='{str(on).lower()}']")


async def test_screen_share_start_stop_start(
    media_browser: Browser, live_server: LiveServer, live_user: LiveUser
) -> None:
    sid, invite_url = await seed(live_server, live_user)
    refused: list[str] = []
    host, host_pid = await host_in_main(media_browser, live_server, refused, sid)
    party = await open_page(media_browser, live_server, refused)
    await party.goto(invite_url.removeprefix(live_server.url))
    party_pid = await pass_selftest_and_join(party, "张三")
    await host.click(f"#host-panel button[data-action=admit][data-pid='{party_pid}']")
    await wait_place(party, "main")
    await wait_playing(party, {host_pid})

    await share(host, True)
    await party.wait_for_function(SCREEN_PLAYING, arg=[host_pid, 10], polling=250)
    await party.screenshot(path=str(SCREENSHOT_DIR / "session-screen.png"), full_page=True)
    await wait_playing(party, {host_pid})  # the camera plays on beside the screen

    await share(host, False)
    await party.wait_for_function(NO_SCREEN, polling=250)
    await wait_playing(party, {host_pid})

    await share(host, True)
    await party.wait_for_function(SCREEN_PLAYING, arg=[host_pid, 10], polling=250)

    # Stopped from the browser's own "stop sharing" bar: the track ends by itself. The page
    # treats it as the button: the button is released and the share leaves the party.
    await host.evaluate(
        "() => window.courtlink.media.local.screen.dispatchEvent(new Event('ended'))"
    )
    await host.wait_for_selector("#screen-button[aria-pressed='false']")
    await party.wait_for_function(NO_SCREEN, polling=250)
    assert not refused, refused
