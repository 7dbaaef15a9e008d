"""Rejoin after a closed tab (issue 13, item 5): within the resume window, a party or the
mediator who closes the tab and opens the same link again in the same browser gets their
place back without the lobby, as after a dropped connection; a reload does too. Another
browser (its own context or profile: no token) on the same link waits for the host. In
Chromium (the party and the mediator) and in Firefox (the party, in one profile)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, Page

from tests.e2e.conftest import LiveServer, LiveUser
from tests.e2e.firefox import launch
from tests.e2e.sessions import (
    Driver,
    firefox_party_joins,
    host_in_main,
    open_page,
    pass_selftest_and_join,
    seed,
    wait_place,
    wait_playing,
)

# Every lobby knock the host's page hears of (a connected person in the lobby, by pid):
# installed on the host's page before anyone reopens, read back after.
WATCH_KNOCKS = """() => {
    window.knocks = [];
    window.courtlink.signal.addEventListener("message", (ev) => {
        const msg = ev.detail;
        if (msg.type !== "state") return;
        for (const p of msg.people)
            if (p.place === null && p.connected && !window.knocks.includes(p.pid))
                window.knocks.push(p.pid);
    });
}"""
KNOCKS = "() => window.knocks"
WELCOME = "() => { const w = window.courtlink.welcome; return [w.pid, w.resumed, w.place]; }"
STORED = "() => Object.keys(localStorage).filter((k) => k.startsWith('courtlink.resume.'))"


async def reopen(page: Page, url: str) -> Page:
    """Close ``page`` (the tab, not a reload) and open ``url`` in a new tab of the same browser
    context: the same cookies and the same localStorage."""
    context = page.context
    await page.close()
    again = await context.new_page()
    again.set_default_timeout(30_000)
    again.on("dialog", lambda dialog: dialog.accept())
    await again.goto(url)
    return again


async def back_in_place(page: Driver, place: str, old_pid: str) -> str:
    """The page joined again and was put straight back in ``place``: a resumed welcome."""
    pid, resumed, welcomed_in = await page.evaluate(WELCOME)
    assert resumed is True and welcomed_in == place and pid != old_pid, (pid, resumed, welcomed_in)
    await wait_place(page, place)
    return str(pid)


async def test_chromium_party_and_mediator_rejoin_after_closing_the_tab(
    media_browser: Browser, live_server: LiveServer, live_user: LiveUser
) -> None:
    sid, invite_url = await seed(live_server, live_user)
    link = invite_url.removeprefix(live_server.url)
    refused: list[str] = []
    host, host_pid = await host_in_main(media_browser, live_server, refused, sid)
    party = await open_page(media_browser, live_server, refused)
    await party.goto(link)
    party_pid = await pass_selftest_and_join(party, "张三")
    await wait_place(party, None)
    await host.click(f"#host-panel button[data-action=admit][data-pid='{party_pid}']")
    await wait_place(party, "main")
    await wait_playing(party, {host_pid})
    await host.evaluate(WATCH_KNOCKS)

    # The party closes the tab and opens the link again: joining puts them straight back in
    # the main room; the host never sees them knock.
    party = await reopen(party, link)
    await pass_selftest_and_join(party, "张三")
    party_pid = await back_in_place(party, "main", party_pid)
    await wait_playing(party, {host_pid})
    await wait_playing(host, {party_pid})

    # A reload is the same; the page says so and has the name filled in.
    await party.reload()
    await party.wait_for_selector("#rejoin-note:not([hidden])")
    assert await party.input_value("#party-name") == "张三"
    await pass_selftest_and_join(party)
    party_pid = await back_in_place(party, "main", party_pid)
    await wait_playing(host, {party_pid})
    assert await host.evaluate(KNOCKS) == []

    # The mediator, in a private room with the party, closes the tab and opens the join page
    # again: back in that room as host, with the party.
    await host.select_option(
        f"#host-panel select[data-action=move][data-pid='{party_pid}']", "caucus-1"
    )
    await host.click("#host-panel section[data-place='caucus-1'] button[data-action=move]")
    await wait_place(host, "caucus-1")
    host = await reopen(host, f"/sessions/{sid}/join")
    await pass_selftest_and_join(host)
    host_pid = await back_in_place(host, "caucus-1", host_pid)
    assert await host.evaluate("() => window.courtlink.welcome.role") == "host"
    await wait_playing(host, {party_pid})
    await wait_playing(party, {host_pid})

    # Another browser (its own context: no token) on the same link waits for the host, and the
    # host sees it knock.
    await host.evaluate(WATCH_KNOCKS)
    other = await open_page(media_browser, live_server, refused)
    await other.goto(link)
    assert await other.input_value("#party-name") == ""
    assert await other.locator("#rejoin-note").is_hidden()
    other_pid = await pass_selftest_and_join(other, "张三")
    await wait_place(other, None)
    assert await other.evaluate("() => window.courtlink.welcome.resumed") is False
    await host.wait_for_function("(pid) => window.knocks.includes(pid)", arg=other_pid)

    # Leaving on purpose forgets the token: the next visit starts afresh.
    await host.click("#leave-button")
    await host.wait_for_selector("#screen-ended:not([hidden])")
    assert await host.evaluate(STORED) == []
    assert not refused, refused


async def test_firefox_party_rejoins_after_closing_the_tab(
    media_browser: Browser,
    firefox: Path,
    live_server: LiveServer,
    live_user: LiveUser,
    tmp_path: Path,
) -> None:
    sid, invite_url = await seed(live_server, live_user)
    link = invite_url.removeprefix(live_server.url)
    refused: list[str] = []
    host, host_pid = await host_in_main(media_browser, live_server, refused, sid)

    async with launch(tmp_path / "ff") as browser:
        party = await browser.new_tab(live_server.url)
        await party.goto(link)
        party_pid = await firefox_party_joins(party, "张三")
        await wait_place(party, None)
        await host.click(f"#host-panel button[data-action=admit][data-pid='{party_pid}']")
        await wait_place(party, "main")
        await wait_playing(host, {party_pid})
        await host.evaluate(WATCH_KNOCKS)

        # The tab is closed; a new tab of the same profile opens the link: back in the room.
        await party.close()
        party = await browser.new_tab(live_server.url)
        await party.goto(link)
        await firefox_party_joins(party, "张三")
        party_pid = await back_in_place(party, "main", party_pid)
        await wait_playing(party, {host_pid})
        await wait_playing(host, {party_pid})
        assert await host.evaluate(KNOCKS) == []

        # Leaving on purpose forgets the token.
        await party.click("#leave-button")
        await party.wait_for_selector("#screen-ended:not([hidden])")
        assert await party.evaluate(STORED) == []
        offers_refused = [m for m in browser.console if "answering the offer failed" in m]
        assert not offers_refused and not refused, (offers_refused, refused)
