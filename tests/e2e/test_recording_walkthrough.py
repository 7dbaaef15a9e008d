"""Recordings as people meet them, in real Chromium (issue 4's "done when"): a mediator opens
a session from the case page, a party joins by invite link and is admitted, both see each
other under the recording indicator, the host stops and starts recording from the room (the
party's indicator follows), the host ends the session; then a clerk finds the recording on
the case page, waits for the composite, plays it, downloads a segment, and
``courtlink recordings verify`` passes until a byte of that segment is flipped. And a disk
that fills up: the host sees the alarm in Chinese, the party does not, the room goes on.

Screenshots go to /tmp (``COURTLINK_SCREENSHOTS``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page
from sqlalchemy import select

from recordings import paths, segments
from recordings.writer import SegmentWriter
from server.models.accounts import Office
from server.models.docket import Case, Party
from server.models.recordings import Recording
from server.web.keys import SESSIONMAKER
from tests.e2e.conftest import SCREENSHOT_DIR, LiveServer, LiveUser, log_in
from tests.e2e.sessions import (
    open_page,
    pass_selftest_and_join,
    wait_place,
    wait_playing,
)
from tests.recording_db import recordings_cli

pytestmark = pytest.mark.e2e


async def _case(server: LiveServer, live_user: LiveUser) -> int:
    med = await live_user("med", "mediator", display_name="王调解员")
    await live_user("clerk", "clerk", display_name="刘书记员")
    async with server.app[SESSIONMAKER]() as db:
        office = await db.scalar(select(Office).where(Office.code == "pingtan"))
        assert office is not None
        case = Case(cause="民间借贷纠纷", office_id=office.id, mediator_id=med.id,
                    stage="pre_litigation_mediation")  # fmt: skip
        case.parties = [Party(side="applicant", name="张三"), Party(side="respondent", name="李四")]
        db.add(case)
        await db.commit()
        return case.id


async def _open_session(host: Page, server: LiveServer, case_id: int) -> tuple[int, str]:
    """The mediator opens a session from the case page and makes the applicant's link."""
    await log_in(host, "med")
    await host.goto(f"/cases/{case_id}")
    async with host.expect_navigation():
        await host.click(f"form[action='/cases/{case_id}/sessions'] button[type=submit]")
    sid = int(host.url.rsplit("/", 1)[1])
    async with host.expect_navigation():
        await host.click(f"form[action='/sessions/{sid}/invites'] button[type=submit]")
    invite = (
        await host.locator("tr[data-invite]", has_text="张三")
        .locator("input.invite-url")
        .input_value()
    )
    return sid, invite.removeprefix(server.url)


async def _host_and_party_in_the_room(
    host: Page, party: Page, sid: int, invite: str
) -> tuple[str, str]:
    await host.click("#join-link")
    host_pid = await pass_selftest_and_join(host)
    await wait_place(host, "main")
    await party.goto(invite)
    party_pid = await pass_selftest_and_join(party, "张三")
    await wait_place(party, None)
    await host.click(f"#host-panel button[data-action=admit][data-pid='{party_pid}']")
    await wait_place(party, "main")
    return host_pid, party_pid


async def test_recorded_session_then_the_clerk_plays_downloads_and_verifies(
    media_browser: Browser,
    live_server: LiveServer,
    live_user: LiveUser,
    tmp_path: Path,
) -> None:
    case_id = await _case(live_server, live_user)
    refused: list[str] = []
    host = await open_page(media_browser, live_server, refused)
    party = await open_page(media_browser, live_server, refused)
    sid, invite = await _open_session(host, live_server, case_id)
    host_pid, party_pid = await _host_and_party_in_the_room(host, party, sid, invite)
    await wait_playing(host, {party_pid})
    await wait_playing(party, {host_pid})

    # Everyone sees the indicator; only the host has the recording button.
    for page in (host, party):
        await page.locator("#recording-indicator").wait_for(state="visible")
    assert await party.locator("#recording-button").is_hidden()
    assert await party.locator("#end-button").is_hidden()
    assert await host.text_content("#recording-button") == "停止录像"

    # The host stops recording from the room: the party's indicator goes off at once; and
    # starts it again: it comes back.
    await host.click("#recording-button")
    await host.click("#confirm-yes")  # the page asks first (room_layout.js)
    await party.locator("#recording-indicator").wait_for(state="hidden")
    await host.locator("#recording-button[data-active=false]").wait_for()
    assert await host.text_content("#recording-button") == "开始录像"
    await host.click("#recording-button")
    await party.locator("#recording-indicator").wait_for(state="visible")
    await host.locator("#recording-button[data-active=true]").wait_for()
    await host.screenshot(path=str(SCREENSHOT_DIR / "recording-room-host.png"), full_page=True)
    await party.wait_for_timeout(2000)  # a little more of the record after the restart

    await host.click("#end-button")
    await host.click("#confirm-yes")
    for page in (host, party):
        await page.wait_for_selector("#screen-ended:not([hidden])")

    # The clerk finds the recording on the case page; the timeline has the stop and start.
    clerk = await open_page(media_browser, live_server, refused)
    await log_in(clerk, "clerk")
    await clerk.goto(f"/cases/{case_id}")
    timeline = await clerk.text_content("#timeline")
    assert f"会话 #{sid}：停止录像" in timeline and f"会话 #{sid}：开始录像" in timeline
    link = clerk.locator(f"#recordings-list a[href='/recordings/sessions/{sid}']")
    await link.click()
    await clerk.wait_for_selector("#composite-progress")
    # The composite is made in the background; the page polls and shows it when ready.
    await clerk.wait_for_selector("#composite-links:not([hidden])", timeout=45_000)
    assert await clerk.evaluate("document.getElementById('composite-progress').value") == 1
    await clerk.click("#composite-links button.play")
    await clerk.wait_for_function(
        "() => { const v = document.getElementById('player');"
        " return v.currentTime > 0.5 && v.videoWidth > 0; }"
    )
    await clerk.screenshot(path=str(SCREENSHOT_DIR / "recording-clerk.png"), full_page=True)

    # Download the first camera segment: the bytes are the sealed file's.
    row = clerk.locator("#segments tr[data-segment]", has_text="摄像头").first
    seg_id = int(await row.get_attribute("data-segment") or 0)
    async with clerk.expect_download() as info:
        await row.locator("a[href$='/download']").click()
    download = await info.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    async with live_server.app[SESSIONMAKER]() as db:
        rec = await db.scalar(select(Recording).where(Recording.session_id == sid))
        assert rec is not None
        seg = next(s for s in rec.segments if s.id == seg_id)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == seg.sha256
    assert saved.name == paths.download_name(sid, seg_id, "camera")

    settings = live_server.settings
    ok = await recordings_cli(settings, "verify", str(sid))
    assert ok.returncode == 0 and f"session {sid}: OK" in ok.stdout, ok.stdout + ok.stderr

    stored = paths.inside(settings, seg.path)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))
    bad = await recordings_cli(settings, "verify", str(sid))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert f"ALTERED: {stored}" in bad.stdout and saved.name in bad.stdout
    assert not refused, refused


def _full_disk(path: Path, kind: str, **kw: Any) -> SegmentWriter:
    # Every write of a segment file is answered by the kernel with ENOSPC.
    return SegmentWriter(Path("/dev/full"), kind, **kw)


async def test_a_full_disk_alarms_the_host_in_chinese_and_the_room_goes_on(
    media_browser: Browser,
    live_server: LiveServer,
    live_user: LiveUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(segments, "SegmentWriter", _full_disk)
    case_id = await _case(live_server, live_user)
    refused: list[str] = []
    host = await open_page(media_browser, live_server, refused)
    party = await open_page(media_browser, live_server, refused)
    sid, invite = await _open_session(host, live_server, case_id)
    host_pid, party_pid = await _host_and_party_in_the_room(host, party, sid, invite)

    banner = host.locator("#recording-alarm")
    await banner.wait_for(state="visible")
    assert "录像已停止：录像存储磁盘已满" in (await banner.text_content() or "")
    assert await host.text_content("#recording-button") == "开始录像"
    for page in (host, party):
        await page.locator("#recording-indicator").wait_for(state="hidden")
    # The room goes on: both still see each other; the party is not shown the alarm.
    await wait_playing(host, {party_pid})
    await wait_playing(party, {host_pid})
    assert await party.locator("#recording-alarm").is_hidden()
    await host.screenshot(path=str(SCREENSHOT_DIR / "recording-alarm-host.png"), full_page=True)

    # A host who reloads the room still sees why nothing is being recorded.
    await host.reload()
    await pass_selftest_and_join(host)
    await wait_place(host, "main")
    await banner.wait_for(state="visible")
    await host.click("#end-button")
    await host.click("#confirm-yes")
    await party.wait_for_selector("#screen-ended:not([hidden])")
