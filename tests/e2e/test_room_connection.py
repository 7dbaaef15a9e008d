"""The room's states not covered by test_room_states and test_room_layout (issue 14 items 1, 2
and 5), in real Chromium: a party on a phone (375x812, touch) with a mediator on a desktop.

- The lobby chime: when the party arrives the host's page plays the two-note chime (the
  oscillators started on a running AudioContext, counted by an init script in the test's
  page; the product has no hook for it). The toast and count badge are test_room_layout's.
- Camera switch on the phone (its own test, in a browser with two fake cameras): the control
  is there, at least 44x44; tapping it asks getUserMedia for the other facing mode, the self
  view keeps a live track from the other camera, no error is shown, and the mediator still
  sees the party's video (frames rising).
- Recording turned off: the host stops it through the in-page confirmation; the party's
  notice says the room is no longer recorded.
- Reconnecting: the party's signaling socket is closed and new ones refused (Playwright's
  WebSocket routing); the notice says it is reconnecting on its own, then, let through again,
  the page is back in its room with the ordinary notice.
- Session ended: the host ends it with the button and the confirmation; the party sees the
  ended screen with what happens next.

A phone has a front and a back camera; Chromium's fake devices have no facing mode. The
browser is started with three fake cameras and an init script makes them a phone's two:
device 0 faces the user, device 2 the environment, and ``getUserMedia`` with a facing mode
opens that device (every call's constraints are kept in ``window.__gum``). Device 1 is hidden
from the page: Chromium makes its second fake camera a 16-bit grey (Y16, depth-camera) source,
which a <video> shows but WebRTC never encodes (its sender would freeze), and no phone's back
camera is one. Devices 0 (I420) and 2 (MJPEG) are ordinary colour cameras.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, WebSocketRoute

from tests.e2e.conftest import (
    CHROMIUM_ARGS,
    SCREENSHOT_DIR,
    LiveServer,
    LiveUser,
    _launch_chromium,
    log_in,
)
from tests.e2e.sessions import (
    host_sends,
    pass_selftest_and_join,
    pid_of,
    playing,
    seed,
    wait_place,
)
from tests.e2e.viewports import DESKTOP, MIN_TAP, PHONE, box_of, open_at

# Fake devices 0 and 2 as a phone's front and back cameras; device 1 (Y16, not a colour
# camera: WebRTC sends none of its frames) is not one of the phone's.
PHONE_CAMERAS = """(() => {
  const md = navigator.mediaDevices;
  if (!md) return;
  const real = md.getUserMedia.bind(md);
  const list = md.enumerateDevices.bind(md);
  md.enumerateDevices = async () => (await list()).filter((d) => d.label !== 'fake_device_1');
  const settings = MediaStreamTrack.prototype.getSettings;
  const facing = (track) => track.label === 'fake_device_2' ? 'environment' : 'user';
  MediaStreamTrack.prototype.getSettings = function () {
    const s = settings.call(this);
    if (this.kind === 'video') s.facingMode = facing(this);
    return s;
  };
  window.__gum = [];
  md.getUserMedia = async (c) => {
    window.__gum.push(JSON.parse(JSON.stringify(c || {})));
    const fm = c && c.video && c.video.facingMode;
    if (fm) {
      const want = fm.exact || fm.ideal || fm;
      const cams = (await md.enumerateDevices()).filter((d) => d.kind === 'videoinput');
      const label = want === 'environment' ? 'fake_device_2' : 'fake_device_0';
      const cam = cams.find((d) => d.label === label);
      c = { ...c, video: { deviceId: { exact: cam.deviceId } } };
    }
    return real(c);
  };
})()"""

# Every oscillator started, with its AudioContext's state when started and a moment later.
COUNT_TONES = """(() => {
  window.__tones = [];
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) {
    window.__tones.push({ freq: this.frequency.value, ctx: this.context });
    return start.apply(this, args);
  };
})()"""

# The chime was played: two tones (660 and 880 Hz) on an AudioContext that is running.
CHIME_PLAYED = """() => { const t = window.__tones || [];
  return t.length >= 2 && t.every(x => x.ctx.state === 'running')
    ? t.map(x => x.freq) : null; }"""

# The page's video senders: their track and what they have encoded and sent so far.
SENDING = """async () => { const out = [];
  (await window.courtlink.media.pc.getStats()).forEach(s => {
    if (s.type === 'outbound-rtp' && s.kind === 'video')
      out.push([s.packetsSent, s.framesEncoded, s.qualityLimitationReason]); });
  const tracks = window.courtlink.media.pc.getSenders().map(s => s.track
    && [s.track.label, s.track.readyState]);
  return { out, tracks }; }"""

# The self view's video track: which camera, whether live, and as the page says it faces.
SELF_TRACK = """() => { const v = document.getElementById('self-video');
  const t = v.srcObject && v.srcObject.getVideoTracks()[0];
  return t && { label: t.label, state: t.readyState, enabled: t.enabled,
                facing: v.closest('.tile').dataset.facing || null }; }"""

NOTICE = """([words, state]) => { const box = document.getElementById('room-notice');
  const text = box && box.offsetParent !== null ? box.innerText : '';
  return words.every(w => text.includes(w)) && (!state || box.dataset.state === state)
    ? text : null; }"""


@pytest.fixture
async def two_camera_browser(chromium: Path) -> AsyncIterator[Browser]:
    """Chromium with fake cameras (PHONE_CAMERAS makes two of them a phone's front and back)
    and a fake microphone."""
    args = [
        *CHROMIUM_ARGS,
        "--use-fake-device-for-media-stream=device-count=3",
        "--use-fake-ui-for-media-stream",
    ]
    async with _launch_chromium(chromium, args) as instance:
        yield instance


async def notice_says(page: Page, *words: str, state: str | None = None) -> str:
    text: str = await (
        await page.wait_for_function(NOTICE, arg=[list(words), state], polling=250)
    ).json_value()
    return text


async def confirm(page: Page, button: str) -> None:
    """Press a button that asks first, and say yes in the page's confirmation."""
    await page.click(button)
    await page.locator("#confirm-dialog[open]").wait_for()
    await page.click("#confirm-yes")
    await page.locator("#confirm-dialog[open]").wait_for(state="detached")


async def party_in_room(
    browser: Browser, server: LiveServer, sid: int, invite_url: str
) -> tuple[Page, Page]:
    """The mediator on a desktop (oscillators counted) in the main room; 张三 on a phone (its
    cameras a phone's) arrives in the lobby, the chime is played, and is let in; both see
    each other's video. (host, party)"""
    host = await open_at(browser, server, DESKTOP)
    party = await open_at(browser, server, PHONE)
    await host.add_init_script(script=COUNT_TONES)
    await party.add_init_script(script=PHONE_CAMERAS)
    for page in (host, party):
        page.set_default_timeout(45_000)
    await log_in(host, "med")
    await host.goto(f"/sessions/{sid}/join")
    await pass_selftest_and_join(host)
    await wait_place(host, "main")
    assert await host.evaluate("() => window.__tones.length") == 0

    # The party arrives in the lobby: the host's page plays the chime.
    await party.goto(invite_url.removeprefix(server.url))
    await pass_selftest_and_join(party, "张三")
    await wait_place(party, None)
    tones = await (await host.wait_for_function(CHIME_PLAYED)).json_value()
    assert sorted(set(tones)) == [660, 880], tones
    await host_sends(host, type="admit", pid=await pid_of(host, "张三"))
    await wait_place(party, "main")
    await playing(party, {"王调解员"})
    await playing(host, {"张三"})
    return host, party


async def test_chime_recording_off_reconnecting_and_ended(
    media_browser: Browser, live_server: LiveServer, live_user: LiveUser
) -> None:
    sid, invite_url = await seed(live_server, live_user)
    host, party = await party_in_room(media_browser, live_server, sid, invite_url)

    # Recording turned off by the host: the party is told.
    await notice_says(party, "本房间正在录音录像")
    await confirm(host, "#recording-button")
    await notice_says(party, "本房间没有录音录像")
    assert await party.get_attribute("#room-notice", "data-recording") == "false"

    # The party's connection drops and cannot come back at once: the notice says it is
    # reconnecting by itself; let through again, the party is back where they were.
    blocked = True

    def through_or_refused(ws: WebSocketRoute) -> Any:
        if blocked:
            return ws.close()
        ws.connect_to_server()
        return None

    await party.route_web_socket(re.compile(r"/ws/sessions/"), through_or_refused)
    await party.evaluate("() => window.courtlink.signal.drop()")
    await notice_says(party, "正在自动重新连接", "无需任何操作", state="reconnecting")
    await party.locator("#conn-state[data-state=reconnecting]").wait_for()
    await party.screenshot(path=str(SCREENSHOT_DIR / "room-reconnecting-phone.png"))
    blocked = False
    await notice_says(party, "您在主会场", state="main")
    await party.locator("#conn-state[data-state=connected]").wait_for()
    await wait_place(party, "main")
    await playing(party, {"王调解员"})

    # The host ends the session: the party sees it is over and what happens next.
    await confirm(host, "#end-button")
    await party.locator("#screen-ended").wait_for(state="visible")
    assert "接下来" in await party.locator("#ended-next").inner_text()
    assert await party.locator("#screen-room").is_hidden()
    for page in (host, party):
        await page.context.close()


async def test_camera_switch_on_a_phone(
    two_camera_browser: Browser, live_server: LiveServer, live_user: LiveUser
) -> None:
    sid, invite_url = await seed(live_server, live_user)
    host, party = await party_in_room(two_camera_browser, live_server, sid, invite_url)

    # The camera switch on the phone: thumb-sized; the other facing mode; still a picture.
    flip = party.locator("#flip-button")
    await flip.wait_for(state="visible")
    box = await box_of(party, "#flip-button")
    assert box["width"] >= MIN_TAP and box["height"] >= MIN_TAP, box
    before = await party.evaluate(SELF_TRACK)
    assert before and before["facing"] != "environment", before
    errors: list[str] = []
    party.on("console", lambda m: m.type in ("error", "warning") and errors.append(m.text))
    await flip.tap()
    after = await (
        await party.wait_for_function(
            f"() => {{ const t = ({SELF_TRACK})(); return t && t.facing === 'environment'"
            " && t.state === 'live' ? t : null; }"
        )
    ).json_value()
    assert after["label"] != before["label"] and after["enabled"], (before, after)
    asked = await party.evaluate("() => window.__gum.at(-1)")
    assert asked["video"]["facingMode"] == {"exact": "environment"}, asked
    await flip.wait_for(state="visible")
    assert await flip.is_enabled()
    assert not [e for e in errors if "camera" in e.lower()], errors
    assert not await party.locator("#toast:not([hidden])").count()
    # The mediator still sees the party, now from the other camera: the party's camera sender
    # keeps encoding (its stats are in the failure message).
    try:
        await playing(host, {"张三"})
    except Exception as exc:
        raise AssertionError(f"party's video senders: {await party.evaluate(SENDING)}") from exc

    for page in (host, party):
        await page.context.close()
