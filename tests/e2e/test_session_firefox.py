"""A live session across browsers: the mediator in Chromium, the party by invite link in
Debian's Firefox ESR (driven over WebDriver BiDi, tests/e2e/firefox.py).

The party passes the self-test (after the click Firefox's autoplay policy asks for) and the
name check, waits in the lobby, is admitted; both see each other's video playing and hear each
other (the decoded remote audio has a level), and hear silence while both are muted; the party
shares its screen and stops; the mediator moves the party to a caucus room and back; the
Firefox connection is dropped and comes back by itself; the mediator ends the session and
Firefox shows the end."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser

from server.models.sessions import MediationSession
from server.web.keys import SESSIONMAKER
from tests.e2e.conftest import SCREENSHOT_DIR, LiveServer, LiveUser, require_program
from tests.e2e.firefox import FIREFOX, launch
from tests.e2e.sessions import (
    HEARD_LEVEL,
    NO_SCREEN,
    SCREEN_PLAYING,
    Driver,
    host_in_main,
    pass_selftest_and_join,
    seed,
    wait_place,
    wait_playing,
)
from tests.e2e.xvfb import XVFB, virtual_screen


@pytest.fixture
def firefox() -> Path:
    """Debian's Firefox ESR, and Xvfb for its screen."""
    require_program(FIREFOX, "firefox-esr")
    require_program(XVFB, "xvfb")
    return FIREFOX


async def hear_each_other(party: Driver, host: Driver, host_pid: str, party_pid: str) -> None:
    """Each side's decoded remote audio has a level: Chromium's fake microphone beeps, Firefox's
    plays a tone (measured: about 0.28 and 0.07 RMS; silence reads under 0.001). Right after
    an unmute the silence already on its way plays out first, so a few looks are allowed, as
    for ``hear_silence``."""
    levels: tuple[float, float] = (0.0, 0.0)
    for _look in range(5):
        levels = (
            await party.evaluate(HEARD_LEVEL, host_pid),
            await host.evaluate(HEARD_LEVEL, party_pid),
        )
        if min(levels) > 0.01:
            return
    raise AssertionError(f"not heard (party hears host, host hears party): {levels}")


async def hear_silence(party: Driver, host: Driver, host_pid: str, party_pid: str) -> None:
    """After muting, each side soon hears silence (what was already on its way plays out
    first, so the first look may still catch the tail)."""
    levels: tuple[float, float] = (1.0, 1.0)
    for _look in range(5):
        levels = (
            await party.evaluate(HEARD_LEVEL, host_pid),
            await host.evaluate(HEARD_LEVEL, party_pid),
        )
        if max(levels) < 0.005:
            return
    raise AssertionError(f"still heard after both muted: {levels}")


async def test_chromium_mediator_and_firefox_party(
    media_browser: Browser,
    firefox: Path,
    live_server: LiveServer,
    live_user: LiveUser,
    tmp_path: Path,
) -> None:
    sid, invite_url = await seed(live_server, live_user)
    refused: list[str] = []
    host, host_pid = await host_in_main(media_browser, live_server, refused, sid)

    # Firefox runs on a virtual screen rather than headless: only then has it a screen to share.
    async with virtual_screen() as display, launch(tmp_path / "ff", display) as browser:
        party = await browser.new_tab(live_server.url)
        await party.goto(invite_url.removeprefix(live_server.url))
        # Firefox's default autoplay policy holds the level meter until a click: the page
        # says so and offers a button; a click on it starts the meter, and the test passes.
        await party.wait_for_selector("#mic-start:not([hidden])")
        assert "点击" in await party.evaluate(
            "() => document.querySelector('#check-mic').textContent"
        )
        await party.click("#mic-start")
        party_pid = await pass_selftest_and_join(party, "张三")
        await wait_place(party, None)

        # Admitted, they see and hear each other.
        await host.click(f"#host-panel button[data-action=admit][data-pid='{party_pid}']")
        await wait_place(party, "main")
        await wait_playing(party, {host_pid})
        await wait_playing(host, {party_pid})
        await hear_each_other(party, host, host_pid, party_pid)
        # The connection-quality indicator reads Firefox's getStats too.
        await party.wait_for_selector("#quality[data-quality=good]")
        await party.screenshot(str(SCREENSHOT_DIR / "session-firefox-room.png"))
        # Both mute: each hears silence; both unmute: each hears the other again.
        await host.click("#mute-button")
        await party.click("#mute-button")
        await hear_silence(party, host, host_pid, party_pid)
        await host.click("#mute-button")
        await party.click("#mute-button")
        await hear_each_other(party, host, host_pid, party_pid)

        # Firefox shares its screen (a second video track, offered afresh so that Firefox's
        # answer can name its SSRC): the mediator sees it; stopping removes it at once.
        await party.click("#screen-button")
        await host.wait_for_function(SCREEN_PLAYING, arg=[party_pid, 10], polling=250)
        await party.click("#screen-button")
        await host.wait_for_function(NO_SCREEN, polling=250)
        await wait_playing(host, {party_pid})

        # Caucus and back: media between the rooms stops, then flows again.
        await host.select_option(
            f"#host-panel select[data-action=move][data-pid='{party_pid}']", "caucus-1"
        )
        await wait_place(party, "caucus-1")
        await party.wait_for_function("() => !document.querySelector('video.remote')")
        await host.wait_for_function(
            "(pid) => !document.querySelector(`video.remote[data-pid='${pid}']`)", arg=party_pid
        )
        await host.click(f"#host-panel button[data-action=move][data-pid='{party_pid}']")
        await wait_place(party, "main")
        await wait_playing(party, {host_pid})
        await wait_playing(host, {party_pid})

        # A forced drop in Firefox: it reconnects, resumes its place, and the video plays.
        await party.evaluate("() => window.courtlink.signal.drop()")
        new_pid = await party.wait_for_function(
            """(old) => { const w = window.courtlink.welcome;
                          return w.pid !== old && w.resumed ? w.pid : null; }""",
            party_pid,
        )
        await party.wait_for_selector("#conn-state[data-state=connected]")
        await wait_place(party, "main")
        await wait_playing(party, {host_pid})
        await wait_playing(host, {new_pid})

        offers_refused = [m for m in browser.console if "answering the offer failed" in m]
        assert not offers_refused and not refused, (offers_refused, refused)

        # The mediator ends the session; Firefox shows the end.
        await host.click("#end-button")
        await host.click("#confirm-yes")  # the page asks first
        await party.wait_for_selector("#screen-ended:not([hidden])")
    async with live_server.app[SESSIONMAKER]() as db:
        assert (await db.get(MediationSession, sid)).status == "ended"
