"""A refusal from the server reaches the host's toast in Chinese, worded by its code, in real
Chromium: the host's page asks to admit someone who is not there, through its own socket,
and the real server refuses it ("no participant ...", the log's English)."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.e2e.conftest import LiveServer, LiveUser
from tests.e2e.sessions import host_in_main, seed


async def test_a_refused_act_is_told_in_chinese(
    media_browser: Browser, live_server: LiveServer, live_user: LiveUser
) -> None:
    sid, _invite_url = await seed(live_server, live_user)
    refused: list[str] = []
    host, _pid = await host_in_main(media_browser, live_server, refused, sid)
    # As a stale "admit" button would: the person has gone by the time it is pressed.
    await host.evaluate(
        "() => window.courtlink.signal.send({ type: 'admit', pid: 'p00000000deadbeef' })"
    )
    await expect(host.locator("#toast")).to_contain_text("出错：此人已不在会话中。")
    await expect(host.locator("#toast")).not_to_contain_text("no participant")
    assert not refused, refused
