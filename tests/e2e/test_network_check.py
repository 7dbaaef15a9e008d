"""The pre-join's network check in Chromium (issue 18 part 4): the page measures its downlink
and uplink against the server (the probe routes) and suggests the video mode the line can
carry; a click applies it, and the room then receives and sends what that mode says.

The line is narrowed with Chromium's own network emulation (DevTools protocol), which
throttles the page's requests where the browser sends and receives them; the page and the
server are the real ones."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page

from tests.e2e.conftest import LiveServer, LiveUser
from tests.e2e.sessions import host_in_main, open_page, pass_selftest_and_join, seed

pytestmark = pytest.mark.slow


async def _throttle(page: Page, down_kbps: int, up_kbps: int) -> None:
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 75,  # each way: 150 ms round trip
            "downloadThroughput": down_kbps * 1000 / 8,
            "uploadThroughput": up_kbps * 1000 / 8,
        },
    )


async def _measured(page: Page) -> dict[str, object]:
    await page.wait_for_selector("#check-network[data-mode]", timeout=30_000)
    network: dict[str, object] = await page.evaluate("() => window.courtlink.network")
    return network


async def test_a_good_line_keeps_standard_video(
    media_browser: Browser, live_server: LiveServer, live_user: LiveUser
) -> None:
    _sid, url = await seed(live_server, live_user)
    page = await open_page(media_browser, live_server, [])
    await page.goto(url)
    network = await _measured(page)
    assert network["mode"] == "full"
    assert await page.is_hidden("#net-advice")  # nothing to advise
    assert await page.is_hidden("#net-apply")
    line = await page.text_content("#check-network")
    assert line is not None and line.startswith("✓ 网络：下行")


async def test_a_weak_line_is_offered_data_saver_and_the_room_follows(
    media_browser: Browser, live_server: LiveServer, live_user: LiveUser
) -> None:
    _sid, url = await seed(live_server, live_user)
    page = await open_page(media_browser, live_server, [])
    await _throttle(page, down_kbps=500, up_kbps=400)
    await page.goto(url)
    network = await _measured(page)
    assert network["mode"] == "low", network
    # Measured near what the line carries (TCP's start and the emulation's own pacing
    # take some of it), never above.
    down, up = float(network["down"]), float(network["up"])  # type: ignore[arg-type]
    assert 150 < down < 560, network
    assert 100 < up < 460, network
    assert await page.text_content("#net-advice") == "网络较弱，建议使用省流量模式（画面较小）。"
    await page.click("#net-apply")
    assert await page.text_content("#net-advice") == "已更改。进入后可在顶部的菜单中改回。"
    assert await page.input_value("#video-mode") == "low"
    assert await page.evaluate("() => localStorage.getItem('courtlink.video_mode')") == "low"
    # Joining, the page keeps the mode: what it sends and asks for follows it (media.js,
    # room_video.js; tests/e2e/test_simulcast.py has the layers themselves).
    await pass_selftest_and_join(page, "张三")
    assert await page.evaluate("() => window.courtlink.video.mode") == "low"


async def test_a_very_weak_line_is_offered_audio_only(
    media_browser: Browser,
    live_server: LiveServer,
    live_user: LiveUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _sid, url = await seed(live_server, live_user)
    page = await open_page(media_browser, live_server, [])
    await _throttle(page, down_kbps=120, up_kbps=100)
    await page.goto(url)
    network = await _measured(page)
    assert network["mode"] == "audio", network
    assert await page.text_content("#net-apply") == "改用仅音频"
    await page.click("#net-apply")
    assert await page.input_value("#video-mode") == "audio"
    # The upload the page gave up on (too slow to finish in its time) is the client's doing:
    # the server logged no error for it (server/web/body.py).
    errors = [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert errors == []


async def test_staff_measure_too(
    media_browser: Browser, live_server: LiveServer, live_user: LiveUser
) -> None:
    """The mediator's page probes by their login (the upload with the page's CSRF token)."""
    sid, _url = await seed(live_server, live_user)
    host, _pid = await host_in_main(media_browser, live_server, [], sid)
    await host.wait_for_selector("#check-network[data-mode]", state="attached", timeout=30_000)
    network = await host.evaluate("() => window.courtlink.network")
    assert network["mode"] == "full" and network["up"] > 0, network
