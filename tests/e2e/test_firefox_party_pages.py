"""A party's own pages in Firefox at 1366x768 (issue 14 item 8), driven over WebDriver BiDi
(tests/e2e/firefox.py): the signing page as test_signing_page.py checks it in Chromium (party
chrome, the whole agreement in the page's flow, the version by number and time, the pad's
prompt, 清除 apart from 签署), then a signature drawn with the mouse, the name typed and the
confirmation saying what happens next; and the pre-join page of the invite link with the name
field and the join button on the first screen, no staff navigation.

Layout facts are read by scripts in the page (getBoundingClientRect, getComputedStyle), the
same facts the Chromium tests read through Playwright."""

from __future__ import annotations

import asyncio
import itertools
import re
from pathlib import Path
from typing import Any

from tests.e2e.conftest import SCREENSHOT_DIR, LiveServer, LiveUser
from tests.e2e.firefox import BidiError, Tab, launch
from tests.e2e.sessions import self_test_passes
from tests.e2e.test_sign_agreement import _world
from tests.e2e.test_signing_page import STAFF_NAV
from tests.e2e.viewports import DESKTOP, INNER_SCROLLERS_JS

# The page's facts in one read: each selector's box (null when not laid out), whether it is
# shown, its colours; and the viewport's size and scroll.
FACTS = """(sels) => { const out = {vw: innerWidth, vh: innerHeight, scrollY};
  for (const s of sels) { const el = document.querySelector(s);
    if (!el) { out[s] = null; continue; }
    const r = el.getBoundingClientRect(), st = getComputedStyle(el);
    out[s] = {x: r.x, y: r.y, w: r.width, h: r.height, text: el.innerText.trim(),
              shown: r.width > 0 && r.height > 0 && st.visibility !== 'hidden',
              bg: st.backgroundColor, color: st.color}; }
  return out; }"""

CLEAR = "form.signature-form [data-clear]"
SUBMIT = "form.signature-form button[type=submit]"
HINT = ".signature-hint"
PAD = "canvas.signature-pad"


async def facts(tab: Tab, sels: list[str]) -> dict[str, Any]:
    seen: dict[str, Any] = await tab.evaluate(FACTS, sels)
    return seen


def inside(box: dict[str, float], seen: dict[str, Any]) -> bool:
    """The box is entirely on the screen as the page now stands."""
    return (
        box["x"] >= -0.5
        and box["y"] >= -0.5
        and box["x"] + box["w"] <= seen["vw"] + 0.5
        and box["y"] + box["h"] <= seen["vh"] + 0.5
    )


def overlap(one: dict[str, float], two: dict[str, float]) -> bool:
    width = min(one["x"] + one["w"], two["x"] + two["w"]) - max(one["x"], two["x"])
    height = min(one["y"] + one["h"], two["y"] + two["h"]) - max(one["y"], two["y"])
    return width > 0.5 and height > 0.5


async def draw(tab: Tab) -> None:
    """Two strokes with the mouse across the pad, as a person signs: trusted pointer events
    through BiDi input.performActions, at viewport coordinates of the pad's box."""
    await tab.evaluate("(s) => document.querySelector(s).scrollIntoView({block: 'center'})", PAD)
    box = (await facts(tab, [PAD]))[PAD]
    strokes = ([(0.1, 0.7), (0.25, 0.2), (0.4, 0.75), (0.55, 0.3)],
               [(0.6, 0.6), (0.75, 0.25), (0.9, 0.65)])  # fmt: skip
    actions: list[dict[str, Any]] = []
    for stroke in strokes:
        at = [(box["x"] + box["w"] * x, box["y"] + box["h"] * y) for x, y in stroke]
        actions.append({"type": "pointerMove", "x": round(at[0][0]), "y": round(at[0][1])})
        actions.append({"type": "pointerDown", "button": 0})
        for (x0, y0), (x1, y1) in itertools.pairwise(at):
            for step in range(1, 7):
                px, py = x0 + (x1 - x0) * step / 6, y0 + (y1 - y0) * step / 6
                actions.append({"type": "pointerMove", "x": round(px), "y": round(py)})
        actions.append({"type": "pointerUp", "button": 0})
    mouse = {"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}}
    await tab.browser.command(
        "input.performActions",
        {"context": tab.context, "actions": [{**mouse, "actions": actions}]},
    )


async def wait_across_reload(tab: Tab, expression: str, timeout: float = 30) -> Any:  # noqa: ASYNC109
    """Poll ``expression`` until truthy while the page may be reloading: a script sent as the
    old document goes away fails, and is asked again of the new one."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await tab.wait_for_function(expression, timeout=timeout * 1000)
        except BidiError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_firefox_party_signs_at_desktop_size(
    firefox: Path, live_server: LiveServer, live_user: LiveUser, tmp_path: Path
) -> None:
    token, _party_id = await _world(live_server, live_user)
    async with launch(tmp_path / "ff") as browser:
        tab = await browser.new_tab(live_server.url, DESKTOP["viewport"])
        await tab.goto(f"/sign/{token}")
        await tab.wait_for_selector(PAD)

        # Party chrome: the court's name, no staff menu and no log-in link.
        assert await tab.evaluate(STAFF_NAV) == []
        assert "平潭区人民法院" in await tab.evaluate(
            "() => document.querySelector('header').innerText"
        )
        # The whole agreement in the page's flow: no frame, no inner scroll box.
        assert await tab.evaluate("() => document.querySelectorAll('main iframe').length") == 0
        scrollers = f"() => ({INNER_SCROLLERS_JS})(document.querySelector('main'))"
        assert await tab.evaluate(scrollers) == []

        seen = await facts(tab, [".version-label", HINT, CLEAR, SUBMIT])
        assert (seen["vw"], seen["vh"]) == (1366, 768), seen
        label = seen[".version-label"]["text"]
        assert re.fullmatch(r"第 1 版 · \d{4}-\d{2}-\d{2} \d{2}:\d{2}", label), label
        # The empty pad says where to sign; 清除 is not the main button and is apart from 签署.
        assert seen[HINT]["shown"] and seen[HINT]["text"] == "在此签名", seen[HINT]
        clear, submit = seen[CLEAR], seen[SUBMIT]
        assert clear["text"] == "清除", clear
        assert clear["bg"] != submit["bg"], (clear, submit)
        assert not overlap(clear, submit), (clear, submit)
        assert submit["y"] - (clear["y"] + clear["h"]) >= 24, (clear, submit)

        await draw(tab)
        await tab.wait_for_function(f"() => document.querySelector('{HINT}').hidden")
        await tab.fill("input[name=typed_name]", "张三")
        await tab.screenshot(str(SCREENSHOT_DIR / "signing-firefox-drawn.png"))
        await tab.click(SUBMIT)

        # Signed: the page comes back with the confirmation, saying what happens next.
        said = await wait_across_reload(
            tab, "() => document.querySelector('#sign-done')?.innerText"
        )
        assert "您已签署本版本" in said and "接下来" in said, said
        await tab.screenshot(str(SCREENSHOT_DIR / "signing-firefox-signed.png"))


async def test_firefox_party_prejoin_first_screen_at_desktop_size(
    firefox: Path, live_server: LiveServer, live_user: LiveUser, tmp_path: Path
) -> None:
    token, _party_id = await _world(live_server, live_user)
    async with launch(tmp_path / "ff") as browser:
        tab = await browser.new_tab(live_server.url, DESKTOP["viewport"])
        await tab.goto(f"/join/{token}")
        assert await tab.evaluate(STAFF_NAV) == []
        # Firefox asks for a gesture before the microphone meter runs (as a party's would).
        await tab.wait_for_selector("#mic-start:not([hidden])")
        await tab.click("#mic-start")
        await self_test_passes(tab)
        seen = await facts(tab, ["#party-name", "#join-button"])
        assert (seen["vw"], seen["vh"], seen["scrollY"]) == (1366, 768, 0), seen
        for sel in ("#party-name", "#join-button"):
            assert seen[sel] and seen[sel]["shown"], (sel, seen)
            assert inside(seen[sel], seen), f"{sel} below the first screen: {seen}"
        assert await tab.evaluate(STAFF_NAV) == []
        await tab.screenshot(str(SCREENSHOT_DIR / "prejoin-firefox-desktop.png"))
