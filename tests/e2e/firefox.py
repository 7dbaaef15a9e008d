"""Debian's Firefox ESR, driven over WebDriver BiDi, for the browser tests.

Playwright drives only its own patched Firefox builds, and the project never downloads a
browser; Debian's ``firefox-esr`` speaks the W3C WebDriver BiDi protocol itself when started
with ``--remote-debugging-port``. This module is the small client the tests need: start
Firefox (headless, or on an X display) with its own throw-away profile and open tabs. A
``Tab`` answers the few Playwright ``Page`` calls the session helpers use (``goto``,
``evaluate``, ``wait_for_function``, ``wait_for_selector``, ``click``, ``fill``,
``select_option``, ``screenshot``) with the same arguments, so one helper drives either
browser. A click is a trusted pointer click (a user gesture, as a person's); the page's
console is kept for failure messages.

The profile's prefs give Firefox what Chromium gets from its fake-media flags: a fake camera
(a moving picture) and microphone (a tone), no permission prompt, and a stand-in for the
sound card the container lacks; the ICE prefs let it reach a server on loopback in a
container with no mDNS.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

FIREFOX = Path(os.environ.get("COURTLINK_FIREFOX", "/usr/bin/firefox-esr"))

PREFS: dict[str, Any] = {
    # Fake devices, granted without a prompt. Autoplay keeps Firefox's default policy (block
    # audible media until a gesture or a camera grant), the one a party's browser has.
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    # No sound card in a container: without an audio backend Firefox never starts an
    # AudioContext (it stays "suspended"), so the self-test's level meter and the remote
    # audio check would hear nothing. Firefox's own mock backend stands in for the card,
    # as Chromium's fake-device flag does.
    "media.cubeb.force_mock_context": True,
    # The server is on 127.0.0.1: gather loopback candidates and name host candidates by
    # address (the container has no mDNS responder).
    "media.peerconnection.ice.loopback": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    # A quiet browser: no first-run pages, updates or telemetry calling out.
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
    "messaging-system.rsexperimentloader.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
}

LISTENING = re.compile(rb"WebDriver BiDi listening on (ws://\S+)")


class BidiError(AssertionError):
    """A BiDi command failed, or a page script threw."""


_NO_ARG = object()


class Firefox:
    """One Firefox process's BiDi session."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.console: list[str] = []
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data.get("type") == "event":
                if data["method"] == "log.entryAdded":
                    self.console.append(str(data["params"].get("text")))
                continue
            future = self._pending.pop(data.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(data)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(BidiError("Firefox closed its BiDi socket"))

    async def command(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = future
        await self.ws.send_json({"id": self._next_id, "method": method, "params": params})
        reply = await asyncio.wait_for(future, 60)
        if reply.get("type") == "error":
            raise BidiError(f"{method}: {reply.get('error')}: {reply.get('message')}")
        result: dict[str, Any] = reply["result"]
        return result

    async def new_tab(self, base_url: str, viewport: dict[str, int] | None = None) -> Tab:
        """A new tab whose relative URLs are under ``base_url``, at ``viewport`` if given
        (``{"width": ..., "height": ...}``)."""
        created = await self.command("browsingContext.create", {"type": "tab"})
        if viewport is not None:
            params = {"context": created["context"], "viewport": viewport}
            await self.command("browsingContext.setViewport", params)
        return Tab(self, created["context"], base_url)


class Tab:
    """One browsing context; URLs starting with / resolve against ``base_url``. Timeouts are
    in milliseconds, as Playwright's."""

    def __init__(self, browser: Firefox, context: str, base_url: str) -> None:
        self.browser, self.context, self.base_url = browser, context, base_url

    async def goto(self, url: str) -> None:
        if url.startswith("/"):
            url = self.base_url + url
        await self.browser.command(
            "browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"}
        )

    async def _script(self, expression: str, *, await_promise: bool) -> dict[str, Any]:
        return await self.browser.command(
            "script.evaluate",
            {
                "expression": expression,
                "target": {"context": self.context},
                "awaitPromise": await_promise,
                # Script is not a person: only click() gives the page a user gesture.
                "userActivation": False,
            },
        )

    async def evaluate(self, expression: str, arg: Any = _NO_ARG) -> Any:
        """Call a JS function (source text), with ``arg`` (JSON) if given; its (awaited)
        value back as JSON. A thrown exception raises ``BidiError`` with the page's message."""
        args = "" if arg is _NO_ARG else json.dumps(arg)
        wrapped = f"(async () => JSON.stringify(await ({expression})({args}) ?? null))()"
        reply = await self._script(wrapped, await_promise=True)
        if reply["type"] == "exception":
            raise BidiError(f"page script threw: {reply['exceptionDetails'].get('text')}")
        return json.loads(reply["result"]["value"])

    async def wait_for_function(
        self,
        expression: str,
        arg: Any = _NO_ARG,
        *,
        polling: float = 250,
        timeout: float = 30_000,  # noqa: ASYNC109 (Playwright's name and unit)
    ) -> Any:
        """Call the JS function every ``polling`` ms until it returns something truthy;
        that value back."""
        deadline = asyncio.get_running_loop().time() + timeout / 1000
        while True:
            value = await self.evaluate(expression, arg)
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise BidiError(
                    f"timed out after {timeout / 1000} s waiting for {expression}; "
                    f"console: {self.browser.console[-10:]}"
                )
            await asyncio.sleep(polling / 1000)

    async def wait_for_selector(
        self,
        selector: str,
        *,
        timeout: float = 30_000,  # noqa: ASYNC109 (Playwright's name and unit)
    ) -> None:
        """Until the selector matches. (Playwright also waits for it to be visible: selectors
        in these tests say ``:not([hidden])`` where that matters.)"""
        await self.wait_for_function(
            "(s) => !!document.querySelector(s)", selector, timeout=timeout
        )

    async def click(self, selector: str) -> None:
        """A trusted pointer click in the middle of the element, as a person's would be.
        The page may re-render the element between finding and clicking it (the host panel
        does on every state message): then find it again, as Playwright does."""
        for attempt in range(5):
            await self.wait_for_selector(selector)
            try:
                await self._click_once(selector)
                return
            except BidiError as exc:
                replaced = "no such node" in str(exc) or "not displayed" in str(exc)
                if not replaced or attempt == 4:
                    raise
                await asyncio.sleep(0.2)

    async def _click_once(self, selector: str) -> None:
        found = await self._script(
            f"document.querySelector({json.dumps(selector)})", await_promise=False
        )
        node = found["result"]
        if node.get("type") != "node":
            raise BidiError(f"no such node: {selector}")
        # Only as far as it takes to bring it on screen, as a person (or Playwright) would:
        # a bare scrollIntoView() puts it at the top and scrolls a page it was visible on.
        await self.evaluate(
            "(s) => document.querySelector(s)"
            "?.scrollIntoView({block: 'nearest', inline: 'nearest'})",
            selector,
        )
        origin = {"type": "element", "element": {"sharedId": node["sharedId"]}}
        pointer = [
            {"type": "pointerMove", "x": 0, "y": 0, "origin": origin},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerUp", "button": 0},
        ]
        await self.browser.command(
            "input.performActions",
            {
                "context": self.context,
                "actions": [{"type": "pointer", "id": "mouse", "actions": pointer}],
            },
        )

    async def close(self) -> None:
        """Close the tab (as a person closes it: not a reload)."""
        await self.browser.command("browsingContext.close", {"context": self.context})

    async def screenshot(self, path: str) -> None:
        shot = await self.browser.command(
            "browsingContext.captureScreenshot", {"context": self.context}
        )
        await asyncio.to_thread(Path(path).write_bytes, base64.b64decode(shot["data"]))

    async def _set_value(self, selector: str, value: str, event: str) -> None:
        """Set a field's value and fire the event a person's typing or choice fires."""
        await self.evaluate(
            """([s, v, e]) => { const el = document.querySelector(s); el.value = v;
                                el.dispatchEvent(new Event(e, {bubbles: true})); }""",
            [selector, value, event],
        )

    async def fill(self, selector: str, value: str) -> None:
        await self._set_value(selector, value, "input")

    async def select_option(self, selector: str, value: str) -> None:
        await self._set_value(selector, value, "change")


def write_profile(profile: Path) -> None:
    profile.mkdir(parents=True, exist_ok=True)
    lines = [f"user_pref({json.dumps(k)}, {json.dumps(v)});" for k, v in PREFS.items()]
    (profile / "user.js").write_text("\n".join(lines) + "\n")


@contextlib.asynccontextmanager
async def launch(profile: Path, display: str | None = None) -> AsyncIterator[Firefox]:
    """Start Firefox on a fresh profile and open its BiDi session: headless, or on the X
    ``display`` given (an Xvfb screen, for what headless Firefox cannot do: share a screen)."""
    write_profile(profile)
    headless = ["--headless"] if display is None else []
    env = {**os.environ, **({"MOZ_HEADLESS": "1"} if display is None else {"DISPLAY": display})}
    proc = await asyncio.create_subprocess_exec(
        str(FIREFOX), *headless, "--no-remote", "--profile", str(profile),
        "--remote-debugging-port", "0", "about:blank",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env,
        start_new_session=True,  # its own process group: the content processes go with it
    )  # fmt: skip
    assert proc.stderr is not None
    drain = None
    try:
        url = await asyncio.wait_for(_listening_url(proc.stderr), 60)
        # Firefox logs freely on stderr; keep reading it so a full pipe never blocks it.
        drain = asyncio.create_task(_drain(proc.stderr))
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(url + "/session", max_msg_size=0)
            browser = Firefox(ws)
            # A confirm() ("end the session for everyone?") is answered yes, as Playwright's
            # pages in these tests do.
            capabilities = {"alwaysMatch": {"unhandledPromptBehavior": {"default": "accept"}}}
            await browser.command("session.new", {"capabilities": capabilities})
            await browser.command("session.subscribe", {"events": ["log.entryAdded"]})
            try:
                yield browser
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(browser.command("browser.close", {}), 10)
                await ws.close()
                browser._reader.cancel()
    finally:
        # Firefox's content processes hold its stderr open after it exits: end the whole
        # group and read the pipe to its end, or the test's loop closes with the pipe open.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(drain or _drain(proc.stderr), 10)


async def _listening_url(stream: asyncio.StreamReader) -> str:
    while line := await stream.readline():
        if match := LISTENING.search(line):
            return match.group(1).decode()
    raise BidiError("Firefox exited before its BiDi server listened")


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass
