"""``make screenshots``: every screen of the product at 1366x768 and 375x812, as PNGs in
var/screenshots/ (issue 14 item 8), so anyone can look at what residents and staff see.

Starts the real app on the real demo seed (``tests/e2e/demo_world.py``), drives Debian's
Chromium (fake camera and microphone) through the staff pages as the roles that see them and
through a resident's path: pre-join, lobby, room, caucus (and the party left in the main
room), back, the agreement shown, signing, signed. Files are named
``<size>-<nn>-<screen>.png`` (e.g. ``phone-12-party-caucus.png``), full-page. A screen that
cannot be reached is reported on stderr and the run exits 1 after taking the rest.

    PYTHONPATH=bench .venv/bin/python -m tests.e2e.screenshots [--out DIR] [--only phone]

(``bench`` on the path as pytest puts it there, ``pyproject.toml``'s ``pythonpath``: the browser
fixtures take the voice clip from ``bench/_media_clip.py``.)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import traceback
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

from server.docket.intake import format_code
from server.docket.numbers import new_code
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, MEDIA_ARGS, LiveServer, log_in
from tests.e2e.demo_world import (
    PASSWORDS,
    STAFF,
    STAFF_PASSWORD,
    Demo,
    add_documents,
    make_template,
    seed_demo,
    serve,
)
from tests.e2e.sessions import (
    host_moves,
    host_sends,
    pass_selftest_and_join,
    pid_of,
    playing,
    self_test_passes,
    wait_place,
)
from tests.e2e.viewports import SIZES
from tests.e2e.viewports import open_at as _open_at


# (who, password, [(screen name, path)]): the staff screens as the roles that use them.
def staff_screens(demo: Demo) -> list[tuple[str, str, list[tuple[str, str]]]]:
    case, sid = f"/cases/{demo.case_id}", demo.session_id
    return [
        ("mediator", PASSWORDS["mediator"], [
            ("home", "/"), ("cases", "/cases"), ("case", case),
            ("case-sessions", f"{case}/sessions"),
            ("session", f"/sessions/{sid}"), ("agreement-case", f"{case}/agreement"),
            ("schedule-my", "/schedule/my"),
        ]),
        ("clerk", PASSWORDS["clerk"], [
            ("cases-due-soon", "/cases/due-soon"), ("case-new", "/cases/new"),
            ("agreements", "/agreements"), ("reports", "/reports"),
            ("schedule-center", "/schedule/center"),
        ]),
        ("admin", PASSWORDS["admin"], [
            ("recordings-admin", "/admin/recordings"),
            ("recordings-session", f"/recordings/sessions/{demo.recorded_session_id}"),
            ("schedule-feed", "/schedule/feed"),
        ]),
        (STAFF, STAFF_PASSWORD, [
            ("schedule", "/schedule"), ("schedule-availability", "/schedule/availability"),
        ]),
    ]  # fmt: skip


async def open_at(browser: Browser, server: LiveServer, size: dict[str, object]) -> Page:
    """A page at ``size``, patient: the run shares a busy machine, and a late screen is
    better than a missing one."""
    page = await _open_at(browser, server, size)
    page.set_default_timeout(60_000)
    return page


class Shooter:
    def __init__(self, out: Path, size: str) -> None:
        self.out, self.size, self.n, self.failed = out, size, 0, []

    async def shot(self, page: Page, name: str) -> None:
        self.n += 1
        path = self.out / f"{self.size}-{self.n:02d}-{name}.png"
        await page.wait_for_timeout(300)  # let transitions and fonts settle for the picture
        await page.screenshot(path=str(path), full_page=True)

    async def step(self, name: str, page: Page, action: object) -> bool:
        """Run ``action`` (an awaitable) and take the shot; a failure is noted, not fatal."""
        try:
            await action  # type: ignore[misc]
            await self.shot(page, name)
            return True
        except Exception:
            self.n += 1
            self.failed.append(f"{self.size} {name}: {traceback.format_exc(limit=2)}")
            return False


async def _goto(page: Page, path: str) -> None:
    await page.goto(path)
    await page.wait_for_load_state("load")


async def run_size(
    browser: Browser, server: LiveServer, demo: Demo, size: str, out: Path
) -> list[str]:
    s = Shooter(out, size)
    view = SIZES[size]
    anon = await open_at(browser, server, view)
    code = format_code(new_code())
    public = [("login", "/login"), ("intake", "/intake"), ("intake-track", "/intake/track"),
              ("intake-done", f"/intake/done/{code}"), ("verify", "/verify")]  # fmt: skip
    for name, path in public:
        await s.step(name, anon, _goto(anon, path))
    await anon.context.close()

    for user, password, screens in staff_screens(demo):
        page = await open_at(browser, server, view)
        await log_in(page, user, password)
        for name, path in screens:
            await s.step(name, page, _goto(page, path))
        await page.context.close()

    # The resident's path, with the mediator hosting on a desktop. The host's admits and
    # moves go over its socket and people are found by name (``tests/e2e/sessions.py``): a
    # connection resumed on a busy machine comes back with a new pid. Each shot waits for
    # what its name says (the videos playing, the notice), so the picture shows it.
    name, token = demo.party_tokens[0]
    other_name, other_token = demo.party_tokens[1]
    host = await open_at(browser, server, SIZES["desktop"])
    await log_in(host, "mediator", PASSWORDS["mediator"])
    await s.step("host-prejoin", host, _prejoin(host, f"/sessions/{demo.session_id}/join"))
    await pass_selftest_and_join(host)
    await wait_place(host, "main")
    me: str = await host.evaluate("() => window.courtlink.state.you.name")
    party = await open_at(browser, server, view)
    other = await open_at(browser, server, view)
    await s.step("party-prejoin", party, _prejoin(party, f"/join/{token}"))

    async def admit(page: Page, who: str) -> None:
        await pass_selftest_and_join(page, who)
        await wait_place(page, None)
        await host_sends(host, type="admit", pid=await pid_of(host, who))
        await wait_place(page, "main")

    async def move(page: Page | None, who: str, room: str) -> None:
        await host_moves(host, await pid_of(host, who), room)
        await wait_place(page or host, room)

    try:
        await pass_selftest_and_join(party, name)
        await wait_place(party, None)
        await s.step("party-lobby", party, party.locator("#lobby-waited").wait_for())
        await s.step("host-lobby-arrival", host, host.locator("#toast:not([hidden])").wait_for())
        await host_sends(host, type="admit", pid=await pid_of(host, name))
        await wait_place(party, "main")
        await s.step("party-room", party, playing(party, {me}))
        await _prejoin(other, f"/join/{other_token}")
        await admit(other, other_name)
        await s.step("host-room", host, playing(host, {name, other_name}))
        # The mediator takes the resident aside: they are told so; the other side waits.
        await move(party, name, "caucus-1")
        await move(None, me, "caucus-1")
        await s.step("party-caucus", party, _caucus(party, me))
        await s.step("party-waiting-while-caucus", other, _notice(other, "与另一方单独沟通"))
        await s.shot(host, "host-caucus")
        await move(None, me, "main")
        await move(party, name, "main")
        await s.step("party-back-in-main", party, playing(party, {me, other_name}))
        await s.step("party-agreement-shown", party, _show_agreement(host, party))
        await s.shot(host, "host-agreement-shown")
    except Exception:
        s.failed.append(f"{size} resident path: {traceback.format_exc(limit=3)}")
    signer = await open_at(browser, server, view)
    await s.step("party-signing", signer, _signing(signer, f"/sign/{token}"))
    await s.step("party-signed", signer, _sign(signer, name))
    for page in (host, party, other, signer):
        await page.context.close()
    return s.failed


async def _prejoin(page: Page, path: str) -> None:
    await _goto(page, path)
    await self_test_passes(page)


async def _notice(page: Page, *words: str) -> None:
    await page.wait_for_function(
        "(ws) => { const text = document.getElementById('room-notice')?.innerText || '';"
        " return ws.every(w => text.includes(w)); }",
        arg=list(words),
    )


async def _caucus(party: Page, host_name: str) -> None:
    await _notice(party, "与您单独沟通", host_name)
    await playing(party, {host_name})


async def _show_agreement(host: Page, party: Page) -> None:
    await host.click("#agreement-show")
    await party.locator("#agreement-panel[data-open]").wait_for()
    await party.frame_locator("#agreement-frame").locator("text=调解协议书").first.wait_for()


async def _signing(page: Page, path: str) -> None:
    await _goto(page, path)
    await page.locator("canvas.signature-pad").wait_for()


async def _sign(page: Page, name: str) -> None:
    canvas = page.locator("canvas.signature-pad")
    await canvas.scroll_into_view_if_needed()
    box = await canvas.bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.7)
    await page.mouse.down()
    for x, y in [(0.3, 0.2), (0.5, 0.75), (0.8, 0.3)]:
        await page.mouse.move(box["x"] + box["width"] * x, box["y"] + box["height"] * y, steps=6)
    await page.mouse.up()
    await page.fill("input[name=typed_name]", name)
    await page.click("form.signature-form button[type=submit]")
    await page.locator("text=您已签署本版本").wait_for()


def clear(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()


def count(out: Path) -> int:
    return len(list(out.glob("*.png")))


async def shoot(root: Path, demo: Demo, sizes: list[str], out: Path) -> list[str]:
    failed: list[str] = []
    async with serve(root / "var", demo) as server:
        await add_documents(server, demo)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *MEDIA_ARGS]
            )
            try:
                for size in sizes:
                    # The second size goes the same path on the same server as the other
                    # party (the first one has signed by then).
                    failed += await run_size(browser, server, demo, size, out)
                    demo.party_tokens.reverse()
            finally:
                await browser.close()
    return failed


def main(out: Path, sizes: list[str]) -> int:
    started = time.monotonic()
    clear(out)
    with tempfile.TemporaryDirectory(prefix="courtlink-shots-") as tmp:
        root = Path(tmp)
        # Migrating and seeding run their own event loops: before ours.
        demo = seed_demo(root / "var", make_template(root / "template"))
        seeded = time.monotonic()
        failed = asyncio.run(shoot(root, demo, sizes, out))
    took, seeding = time.monotonic() - started, seeded - started
    print(f"{count(out)} screenshots in {out} in {took:.0f} s (seeding the demo {seeding:.0f} s)")
    for f in failed:
        print("NOT TAKEN:", f, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("var/screenshots"))
    parser.add_argument("--only", choices=list(SIZES), action="append")
    args = parser.parse_args()
    sys.exit(main(args.out, args.only or list(SIZES)))
