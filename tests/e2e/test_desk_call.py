"""The duty desk in real headless Chromium (issue 17, "Done when"): a street office's
terminal calls the center; the first mediator on duty does not answer; the call rings the
second too, who answers from the banner every center page shows; the terminal is taken into
the session; during the call the mediator registers the resident's dispute with their
consent (an intake case); the resident, invited by their own link, adds a photo from the
room and the host shows it to everyone; the session is recorded and, ended, sealed."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image
from playwright.async_api import Browser
from sqlalchemy import select

from server.desk.roster import half_of
from server.models.desk import CallStatus, DeskCall, DutySlot
from server.models.docket import Case, Consent
from server.models.recordings import Recording
from tests.e2e.conftest import SCREENSHOT_DIR, LiveServer, LiveUser, log_in
from tests.e2e.sessions import open_page, pass_selftest_and_join, wait_place
from tests.helpers import unit
from tests.waiting import wait_for

# Long, so that the first on duty is rung alone for as long as the test looks; the test then
# moves the call's start back a period (as the clock would) to pass the ring on, so nothing
# here depends on how fast a loaded machine runs.
RING_S = 600


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (240, 160), (30, 120, 200)).save(out, "JPEG")
    return out.getvalue()


async def test_an_office_calls_the_second_on_duty_answers_and_it_becomes_a_case(
    media_browser: Browser, live_server: LiveServer, live_user: LiveUser
) -> None:
    live_server.settings.desk_ring_seconds = RING_S
    first = await live_user("med1", "mediator", display_name="李调解员")
    second = await live_user("med2", "mediator", display_name="王调解员")
    await live_user("term", "office_staff", office="pingtan", display_name="平潭街接待终端")
    async with unit(live_server.app) as ctx:
        # Straight into the table: the roster API keeps working days only, and this test
        # runs on any day.
        day, half = half_of(ctx)
        ctx.db.add_all([
            DutySlot(day=day, half=half, user_id=first.id, position=0),
            DutySlot(day=day, half=half, user_id=second.id, position=1),
        ])  # fmt: skip
    refused: list[str] = []
    idle = await open_page(media_browser, live_server, refused)
    await log_in(idle, "med1")
    await idle.goto("/cases")  # any page of the center rings
    host = await open_page(media_browser, live_server, refused)
    await log_in(host, "med2")
    await host.goto("/desk")
    terminal = await open_page(media_browser, live_server, refused)
    await log_in(terminal, "term")
    await terminal.goto("/desk/terminal")

    await terminal.click("#desk-call")
    await terminal.wait_for_function(
        "() => document.getElementById('desk-status').textContent.includes('排队位置：1')"
    )
    await idle.wait_for_selector("#desk-ring:not([hidden]) .desk-answer")
    # The second on duty sees the call listed on the desk page, but it does not ring for them.
    await host.wait_for_selector("#desk-ringing li")
    assert await host.locator("#desk-ring").is_hidden()  # the second's turn has not come
    await idle.screenshot(path=str(SCREENSHOT_DIR / "desk-ringing.png"))
    async with unit(live_server.app) as ctx:  # the first's period runs out unanswered
        waiting = await ctx.db.scalar(select(DeskCall))
        assert waiting is not None
        waiting.called_at -= timedelta(seconds=RING_S + 1)
    # The first does not answer: after a period the second is rung as well, and answers.
    await host.wait_for_selector("#desk-ring:not([hidden]) .desk-answer")
    await host.click("#desk-ring .desk-answer")
    await host.wait_for_url("**/sessions/*/join")
    await idle.wait_for_selector("#desk-ring", state="hidden")  # taken: it stops ringing
    async with unit(live_server.app) as ctx:
        call = await ctx.db.scalar(select(DeskCall))
        assert call is not None and call.status == CallStatus.ANSWERED
        assert call.answered_by_id == second.id and call.session_id is not None
        sid = call.session_id
    host_pid = await pass_selftest_and_join(host)
    assert host_pid
    await wait_place(host, "main")

    # The terminal follows the answer into the session, and is admitted from the lobby.
    await terminal.wait_for_url(f"**/sessions/{sid}/join")
    terminal_pid = await pass_selftest_and_join(terminal)
    await wait_place(terminal, None)
    await host.click(f"#host-panel button[data-action=admit][data-pid='{terminal_pid}']")
    await wait_place(terminal, "main")

    # During the call the mediator registers the dispute, with the resident's consent.
    await host.fill("#desk-call-form [name=applicant_name]", "王五")
    await host.fill("#desk-call-form [name=applicant_phone]", "13800000000")
    await host.fill("#desk-call-form [name=respondent_name]", "赵六")
    await host.fill("#desk-call-form [name=cause]", "相邻关系纠纷")
    await host.fill("#desk-call-form [name=facts]", "楼上漏水,损坏吊顶。")
    await host.check("#desk-call-form [name=consent]")
    await host.click("#desk-call-form button[type=submit]")
    await host.wait_for_selector("#desk-call-result a")
    async with unit(live_server.app) as ctx:
        case = await ctx.db.get(Case, call.case_id)
        assert case is not None and case.cause == "相邻关系纠纷" and case.stage == "intake"
        assert [p.name for p in case.parties] == ["王五", "赵六"]
        consent = await ctx.db.scalar(select(Consent).where(Consent.case_id == case.id))
        assert consent is not None and consent.consents
        applicant_id = case.parties[0].id
    await host.screenshot(path=str(SCREENSHOT_DIR / "desk-call-registered.png"), full_page=True)

    # The resident's own link (made by the host, as the session page does), from a phone.
    token = await host.evaluate("() => document.querySelector('meta[name=csrf-token]').content")
    made = await host.request.post(
        f"/api/v1/sessions/{sid}/invites", data={"party_id": applicant_id},
        headers={"X-CSRF-Token": token},
    )  # fmt: skip
    assert made.status == 201, await made.text()
    invite_url = (await made.json())["url"]
    party = await open_page(media_browser, live_server, refused)
    await party.goto(invite_url.removeprefix(live_server.url))
    party_pid = await pass_selftest_and_join(party, "王五")
    await wait_place(party, None)
    await host.click(f"#host-panel button[data-action=admit][data-pid='{party_pid}']")
    await wait_place(party, "main")

    # The resident adds a photo from the room; the host's list follows and shows it.
    await party.set_input_files(
        "#party-file",
        files=[{"name": "漏水照片.jpg", "mimeType": "image/jpeg", "buffer": _photo()}],
    )
    await party.wait_for_function(
        "() => document.getElementById('party-file-list').textContent.includes('漏水照片.jpg')"
    )
    option = host.locator("#document-choice option", has_text="漏水照片.jpg")
    await option.wait_for(state="attached")
    await host.select_option("#document-choice", await option.get_attribute("value"))
    await host.click("#document-show-button")
    for page in (party, terminal):
        await page.wait_for_selector("#document-shown:not([hidden]) #document-image:not([hidden])")
    await terminal.screenshot(path=str(SCREENSHOT_DIR / "desk-call-photo-shown.png"))

    # Recorded all along; ended by the host, the recording is sealed.
    async with unit(live_server.app) as ctx:
        rec = await ctx.db.scalar(select(Recording).where(Recording.session_id == sid))
        assert rec is not None and rec.active
    await host.click("#end-button")
    await host.click("#confirm-yes")

    async def sealed() -> Recording | None:
        async with unit(live_server.app) as ctx:
            rec = await ctx.db.scalar(select(Recording).where(Recording.session_id == sid))
            return rec if rec is not None and rec.sealed_at is not None else None

    rec = await wait_for(sealed, 60)
    assert rec.manifest_sha256 and rec.case_id == call.case_id
    assert refused == []
