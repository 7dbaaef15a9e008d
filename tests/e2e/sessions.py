"""The live-session page as the browser tests drive it: seeding a case with a session and an
invite, opening a page that records refused offers, and the page-side checks (which place the
page shows, whose video is playing, whether remote audio is heard). Each helper takes a
Playwright ``Page`` (Chromium) or a BiDi ``Tab`` (Firefox, tests/e2e/firefox.py): the tab
answers the same calls, so both browsers go through the same steps and checks."""

from __future__ import annotations

import json
from typing import Any

from playwright.async_api import Browser, Page
from sqlalchemy import select

from server.models.accounts import Office
from server.models.docket import Case, Party
from server.sessions import create_invite, create_session
from tests.e2e.conftest import LiveServer, LiveUser, log_in
from tests.e2e.firefox import Tab
from tests.e2e.turn import FORCE_RELAY
from tests.helpers import unit

Driver = Page | Tab

# Frames a video element has shown so far. Chromium counts them in getVideoPlaybackQuality();
# Firefox reports 0 there for a live MediaStream and counts painted frames in mozPaintedFrames.
FRAMES = "(v.mozPaintedFrames ?? v.getVideoPlaybackQuality().totalVideoFrames)"

# How each page reports its remote videos: pid, size, frames shown so far.
REMOTE_VIDEOS = f"""() => [...document.querySelectorAll('video.remote')].map(v => ({{
    pid: v.dataset.pid, source: v.dataset.source, width: v.videoWidth, frames: {FRAMES} }}))"""

CAMERAS = "video.remote[data-source=camera]"

# True when every pid's camera video has a picture and has shown more than n frames.
PLAYING = f"""(pids, n) => {{
    const seen = [...document.querySelectorAll({CAMERAS!r})]
      .filter(v => v.videoWidth > 0 && {FRAMES} > n);
    const got = new Set(seen.map(v => v.dataset.pid));
    return pids.every(p => got.has(p));
}}"""

# True when every camera video counted in ``before`` (pid -> frames) has shown 10 more.
FRAMES_RISING = f"""(before) => [...document.querySelectorAll({CAMERAS!r})]
    .every(v => !(v.dataset.pid in before) || {FRAMES} > before[v.dataset.pid] + 10)"""

# True when pid's screen video has a picture and has shown more than n frames.
SCREEN_PLAYING = f"""([pid, n]) => [...document.querySelectorAll(
    `video.remote[data-source=screen][data-pid='${{pid}}']`)].some(v => v.videoWidth > 0
    && {FRAMES} > n)"""
NO_SCREEN = "() => !document.querySelector('video.remote[data-source=screen]')"

# What the page knows about its connection, for a failure message: its event log, the peer
# connection's states, what each inbound RTP stream has received and decoded, and which
# tiles say their camera is paused.
PEER_STATE = """async () => {
    const app = window.courtlink, pc = app.media && app.media.pc;
    const inbound = [];
    if (pc) (await pc.getStats()).forEach(s => { if (s.type === 'inbound-rtp')
        inbound.push([s.kind, s.packetsReceived, s.framesDecoded]); });
    const states = pc && [pc.connectionState, pc.iceConnectionState, pc.signalingState];
    const paused = [...document.querySelectorAll('[data-paused]')]
      .filter(t => t.dataset.paused).map(t => `${t.dataset.pid}: ${t.dataset.paused}`);
    return { log: app.log.slice(-15), pc: states, inbound, paused };
}"""


# The loudest level (RMS, 0..1) of pid's decoded remote audio over about two seconds, read
# through Web Audio from the track the page plays: "hears the other side", not just "gets
# packets". The page plays the stream in its video element, which Chromium needs before a
# remote track feeds Web Audio.
HEARD_LEVEL = """async (pid) => {
    const v = document.querySelector(`video.remote[data-source=camera][data-pid='${pid}']`);
    const track = v && v.srcObject && v.srcObject.getAudioTracks()[0];
    if (!track) return 0;
    const ctx = new AudioContext();
    await ctx.resume();
    const analyser = ctx.createAnalyser();
    ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    let loudest = 0;
    for (let i = 0; i < 50; i++) {
        await new Promise(r => setTimeout(r, 40));
        analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (const x of buf) sum += x * x;
        loudest = Math.max(loudest, Math.sqrt(sum / buf.length));
    }
    await ctx.close();
    return loudest;
}"""


async def open_page(browser: Browser, server: LiveServer, refused: list[str]) -> Page:
    """A page in its own context; every offer the browser could not apply (media.js logs
    "answering the offer failed", e.g. Chrome's "Duplicate a=msid") is appended to
    ``refused``: a refused offer can go unnoticed when the next one repairs the picture."""
    context = await browser.new_context(
        base_url=server.url, locale="zh-CN", viewport={"width": 1280, "height": 860}
    )
    page = await context.new_page()
    page.set_default_timeout(30_000)
    page.on("dialog", lambda dialog: dialog.accept())

    def on_console(message: Any) -> None:
        if "answering the offer failed" in message.text:
            refused.append(message.text)

    page.on("console", on_console)
    return page


async def seed(server: LiveServer, live_user: LiveUser) -> tuple[int, str]:
    med = await live_user("med", "mediator", display_name="王调解员")
    await live_user("office", "office_staff", office="pingtan", display_name="平潭街工作人员")
    async with unit(server.app, med) as ctx:
        db = ctx.db
        office = await db.scalar(select(Office).where(Office.code == "pingtan"))
        case = Case(cause="民间借贷纠纷", office_id=office.id, mediator_id=med.id,
                    stage="pre_litigation_mediation")  # fmt: skip
        case.parties = [Party(side="applicant", name="张三"), Party(side="respondent", name="李四")]
        db.add(case)
        await db.flush()
        await db.refresh(case, ["parties", "mediator", "office"])
        session = await create_session(ctx, case, kind="mediation")
        _inv, url = await create_invite(ctx, session, case.parties[0])
    return session.id, url


async def host_in_main(
    browser: Browser, server: LiveServer, refused: list[str], sid: int
) -> tuple[Page, str]:
    """The mediator ("med", from ``seed``) logged in, past the self-test and in the main room
    (a host goes straight in): the page and its pid."""
    host = await open_page(browser, server, refused)
    await log_in(host, "med")
    await host.goto(f"/sessions/{sid}/join")
    pid = await pass_selftest_and_join(host)
    await wait_place(host, "main")
    return host, pid


async def party_through_relay(
    browser: Browser,
    server: LiveServer,
    refused: list[str],
    host: Page,
    relay: tuple[str, int],
    invite_url: str,
) -> tuple[Page, str]:
    """The party ("张三", from ``seed``) whose browser may reach the SFU only through the
    TURN server behind the impairment relay at ``relay`` (``tests.e2e.turn``), past the
    self-test and admitted by ``host`` into the main room: the page and its pid."""
    party = await open_page(browser, server, refused)
    ice = {"urls": f"turn:{relay[0]}:{relay[1]}?transport=udp",
           "username": "party", "credential": "bad-network"}  # fmt: skip
    await party.add_init_script(f"({FORCE_RELAY})({json.dumps(ice)})")
    await party.goto(invite_url.removeprefix(server.url))
    pid = await pass_selftest_and_join(party, "张三")
    await wait_place(party, None)
    await host.click(f"#host-panel button[data-action=admit][data-pid='{pid}']")
    await wait_place(party, "main")
    return party, pid


async def wait_place(page: Driver, place: str | None) -> None:
    if place is None:
        await page.wait_for_selector("#screen-lobby:not([hidden])")
    else:
        await page.wait_for_selector(f"#room-name[data-place='{place}']")


async def videos(page: Driver) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await page.evaluate(REMOTE_VIDEOS)
    return found


async def wait_playing(page: Driver, pids: set[str]) -> None:
    """Every pid's camera video has a picture and its decoded-frame count keeps rising."""
    try:
        await page.wait_for_function(
            f"([pids, n]) => ({PLAYING})(pids, n)", arg=[sorted(pids), 5], polling=250
        )
    except Exception as exc:  # Playwright's TimeoutError or the BiDi client's
        state = await page.evaluate(PEER_STATE)
        raise AssertionError(f"{exc}\npage: {state}\nvideos: {await videos(page)}") from exc
    first = {v["pid"]: v["frames"] for v in await videos(page) if v["source"] == "camera"}
    # Up to a minute: under a full suite's load a picture that had frames stalled for over
    # 30 s once (a switch waiting on a keyframe); failing, say what the page had.
    try:
        await page.wait_for_function(
            f"([before]) => ({FRAMES_RISING})(before)", arg=[first], polling=250, timeout=60_000
        )
    except Exception as exc:
        state = await page.evaluate(PEER_STATE)
        raise AssertionError(
            f"frames not rising since {first}\npage: {state}\nvideos: {await videos(page)}"
        ) from exc
    # Exactly these cameras, allowing the moment a video whose owner has just left (or come
    # back under a new pid) takes to be removed: a plain assert here failed once on a loaded
    # machine, with no word of which videos the page had.
    try:
        await page.wait_for_function(
            f"""(pids) => JSON.stringify([...document.querySelectorAll({CAMERAS!r})]
                 .map(v => v.dataset.pid).sort()) === JSON.stringify(pids)""",
            arg=sorted(pids),
            polling=250,
        )
    except Exception as exc:
        found = await videos(page)
        raise AssertionError(f"wanted cameras {sorted(pids)}, videos: {found}") from exc


async def self_test_passes(page: Driver) -> None:
    try:
        await page.wait_for_selector("#selftest-result[data-result=pass]", timeout=60_000)
    except Exception as exc:
        checks = await page.evaluate(
            "() => [...document.querySelectorAll('.checks li, #selftest-result')]"
            ".map(e => e.textContent)"
        )
        raise AssertionError(f"self-test did not pass: {checks}") from exc


async def pass_selftest_and_join(page: Driver, name: str | None = None) -> str:
    await self_test_passes(page)
    if name is not None:
        await page.fill("#party-name", name)
    await page.click("#join-button")
    await page.wait_for_function("() => window.courtlink.welcome && window.courtlink.welcome.pid")
    pid: str = await page.evaluate("() => window.courtlink.welcome.pid")
    return pid


async def firefox_party_joins(party: Driver, name: str | None) -> str:
    """Firefox's autoplay policy may hold the level meter until a click on the page's
    "start the microphone test" button; then the self-test passes and the party joins."""
    await party.wait_for_function(
        """() => document.querySelector('#selftest-result[data-result=pass]')
                 || !document.getElementById('mic-start').hidden"""
    )
    if await party.evaluate("() => !document.getElementById('mic-start').hidden"):
        await party.click("#mic-start")
    return await pass_selftest_and_join(party, name)


async def host_sends(host: Driver, **msg: Any) -> None:
    """A protocol message from the host's page over its own signaling socket
    (``window.courtlink.signal``), as the host panel's buttons send it: for the tests about
    what the others see, not the panel's markup (it re-renders on every state message, so a
    driven click can land on a button that is being replaced)."""
    await host.evaluate("(m) => window.courtlink.signal.send(m)", msg)


async def host_moves(host: Driver, pid: str, room: str) -> None:
    """The mediator moves someone (or, with their own pid, themselves) to ``room``."""
    await host_sends(host, type="move", pid=pid, room=room)


# The pids of these names (connected), as the page's roster knows them; null until all are.
PIDS_OF = """(names) => { const people = window.courtlink.state?.people || [];
  const pids = names.map(n => (people.find(p => p.name === n && p.connected) || {}).pid);
  return pids.every(Boolean) ? pids : null; }"""


async def pid_of(page: Page, name: str) -> str:
    """The pid ``name`` has now, as ``page`` (the host sees everyone) knows it: a connection
    dropped and resumed (it happens on a loaded machine) comes back with a new pid."""
    pids: list[str] = await (await page.wait_for_function(PIDS_OF, arg=[name])).json_value()
    return pids[0]


async def playing(page: Page, names: set[str]) -> None:
    """``wait_playing`` for these people's videos, by name (their pids as the page now knows
    them); saying on failure which videos the page has and who it thinks is in the room."""
    got = await page.wait_for_function(PIDS_OF, arg=sorted(names))
    pids = set(await got.json_value())
    try:
        await wait_playing(page, pids)
    except AssertionError as exc:
        people = await page.evaluate(
            "() => (window.courtlink.state?.people || []).map(p => [p.pid, p.name, p.place])"
        )
        raise AssertionError(
            f"{exc}\nwanted {pids}; videos {await videos(page)}; {people}"
        ) from exc
