"""The pre-join check says why the camera or microphone could not be opened, and what to do,
in real Chromium: a resident who refused the browser's question is told to allow it for the
page, one with no camera to plug one in or join from a phone. Before, both read "the browser
did not allow the camera or microphone (NotFoundError)", the browser's name for the error."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Locator, Page, expect

from tests.e2e.conftest import CHROMIUM_ARGS, LiveServer, LiveUser, NewPage, _launch_chromium
from tests.e2e.sessions import seed


async def _result(page: Page, url: str) -> Locator:
    await page.goto(url)
    return page.locator("#selftest-result[data-result=fail]")


async def test_a_missing_camera_is_explained(
    new_page: NewPage, live_server: LiveServer, live_user: LiveUser
) -> None:
    _sid, invite_url = await seed(live_server, live_user)
    page = await new_page()  # headless Chromium with no fake devices: none there
    result = await _result(page, invite_url)
    await expect(result).to_contain_text("未找到摄像头或麦克风。请连接设备，或改用手机加入")
    await expect(result).not_to_contain_text("Error")


async def test_a_refused_camera_is_explained(
    chromium: Path, live_server: LiveServer, live_user: LiveUser
) -> None:
    _sid, invite_url = await seed(live_server, live_user)
    # A camera is there, and the question is answered no (no fake "yes" for it).
    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--deny-permission-prompts"]
    async with _launch_chromium(chromium, args) as browser:
        context = await browser.new_context(base_url=live_server.url, locale="zh-CN")
        result = await _result(await context.new_page(), invite_url)
        await expect(result).to_contain_text("浏览器未允许使用摄像头或麦克风。请在地址栏左侧")
        await expect(result).not_to_contain_text("Error")
        await context.close()
