"""Shared fixtures for the browser tests: the real app on a real port, and real Chromium.

- ``live_server`` serves the app (SQLite backend, migrated from the session template) on
  127.0.0.1 on a free port and yields a ``LiveServer`` (``url``, ``app``, ``settings``);
- ``browser`` yields a Playwright ``Browser`` on Debian's Chromium (never a downloaded one),
  ``media_browser`` the same with a fake camera and microphone;
- ``new_page`` is a factory: ``page = await new_page(lang="zh_CN")`` opens a page in a fresh
  browser context whose relative URLs resolve against the live server;
- ``live_user`` creates an account on the live server's database.

Without /usr/bin/chromium the browser tests skip locally (saying how to install it) and FAIL
in CI (``CI=true``), so a missing browser never passes silently.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _media_clip import voice_wav
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy import select

from server.app import create_app
from server.auth import hash_password
from server.models.accounts import Office, User
from server.settings import Settings
from server.web.keys import ENGINE, SESSIONMAKER
from tests.checkouts import Checkouts
from tests.conftest import _base_settings

# coturn for the tests that put a browser behind an impaired network (a fixture)
from tests.e2e.firefox import FIREFOX
from tests.e2e.turn import turn  # noqa: F401
from tests.helpers import PASSWORD, PASSWORD_HASH

CHROMIUM = Path(os.environ.get("COURTLINK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Chromium's fake camera (a test pattern) and microphone (beeps), permission granted.
MEDIA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
SCREENSHOT_DIR = Path(os.environ.get("COURTLINK_SCREENSHOTS", "/tmp"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@dataclass
class LiveServer:
    url: str
    app: web.Application
    settings: Settings

    def __call__(self, path: str = "/") -> str:
        return self.url + path


@contextlib.asynccontextmanager
async def serve_sqlite(
    data_dir: Path, db_file: Path, *, simulcast: bool | None = None
) -> AsyncIterator[LiveServer]:
    """The real app on the SQLite file ``db_file``, on a free port of 127.0.0.1 (``simulcast``
    None keeps the product's setting). The socket is bound first and kept, so the public URL
    (links in pages and mail) names the real port and no other server can be given it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = _base_settings(data_dir, f"sqlite+aiosqlite:///{db_file}", public_url=url)
    if simulcast is not None:
        settings.simulcast = simulcast
    app = create_app(settings)
    checkouts = Checkouts(app[ENGINE])
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        yield LiveServer(url, app, settings)
    finally:
        await runner.cleanup()
    checkouts.check()


@pytest.fixture
async def live_server(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[LiveServer]:
    data_dir = tmp_path / "var"
    data_dir.mkdir(parents=True, exist_ok=True)
    db_file = data_dir / "courtlink.sqlite3"
    shutil.copyfile(sqlite_template, db_file)
    # Simulcast is the product's default; each browser encoding every camera three times over
    # costs this 2-core machine's suite its time, so only the tests about it (marked) run it.
    simulcast = request.node.get_closest_marker("simulcast") is not None
    try:
        async with serve_sqlite(data_dir, db_file, simulcast=simulcast) as live:
            yield live
    finally:
        # A database connection the app left open is found now, and blamed on this test,
        # not whenever the collector next runs (a CI run saw one at another test's setup).
        gc.collect()


def require_program(program: Path, package: str) -> None:
    """A browser test's program (a Debian package): skip locally when it is missing, saying
    how to install it, and fail in CI, so a missing browser never passes silently."""
    if not program.exists():
        reason = f"{program} missing: `make browser` (apt-get install {package}) installs it"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium."""
    require_program(CHROMIUM, "chromium")
    return CHROMIUM


@pytest.fixture
def firefox() -> Path:
    """Debian's Firefox ESR (headless: ``tests.e2e.firefox.launch``)."""
    require_program(FIREFOX, "firefox-esr")
    return FIREFOX


@contextlib.asynccontextmanager
async def _launch_chromium(chromium: Path, args: list[str]) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        instance = await pw.chromium.launch(executable_path=str(chromium), args=args)
        try:
            yield instance
        finally:
            await instance.close()


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with _launch_chromium(chromium, CHROMIUM_ARGS) as instance:
        yield instance


@pytest.fixture
async def media_browser(chromium: Path) -> AsyncIterator[Browser]:
    """Chromium with a fake camera (test pattern) and microphone (beeps), permission granted."""
    async with _launch_chromium(chromium, [*CHROMIUM_ARGS, *MEDIA_ARGS]) as instance:
        yield instance


@pytest.fixture
async def voice_browser(chromium: Path, tmp_path: Path) -> AsyncIterator[Browser]:
    """``media_browser`` whose microphone speaks (``_media_clip.VOICE``, looped) instead of
    beeping: Opus's voice detector takes it for speech, which the fake microphone's beeps
    are not, and codes in-band FEC for speech only."""
    voice = voice_wav(tmp_path)
    args = [*CHROMIUM_ARGS, *MEDIA_ARGS, f"--use-file-for-fake-audio-capture={voice}"]
    async with _launch_chromium(chromium, args) as instance:
        yield instance


NewPage = Callable[..., Awaitable[Page]]


@pytest.fixture
async def new_page(browser: Browser, live_server: LiveServer) -> AsyncIterator[NewPage]:
    contexts = []

    async def factory(lang: str = "zh_CN", **context_args: Any) -> Page:
        context = await browser.new_context(
            base_url=live_server.url,
            locale="zh-CN" if lang == "zh_CN" else "en-US",
            viewport={"width": 1280, "height": 900},
            **context_args,
        )
        if lang != "zh_CN":
            await context.add_cookies([{"name": "cl_lang", "value": lang, "url": live_server.url}])
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield factory
    for context in contexts:
        await context.close()


LiveUser = Callable[..., Awaitable[User]]


@pytest.fixture
def live_user(live_server: LiveServer) -> LiveUser:
    async def factory(username: str, role: str, office: str = "center", **extra: Any) -> User:
        async with live_server.app[SESSIONMAKER]() as db:
            office_row = await db.scalar(select(Office).where(Office.code == office))
            assert office_row is not None, office
            user = User(
                username=username,
                display_name=extra.pop("display_name", username),
                role=role,
                office_id=office_row.id,
                password_hash=hash_password(password)
                if (password := extra.pop("password", PASSWORD)) != PASSWORD
                else PASSWORD_HASH,
                **extra,
            )
            db.add(user)
            await db.commit()
            await db.refresh(user)
            return user

    return factory


async def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Log in through the real login form, as a person would."""
    await page.goto("/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_load_state("load")
