"""In real headless Chromium: a party opens their invite link, reads the agreement, draws a
signature on the canvas with the mouse, types their name and signs; the server holds a PNG
with ink in it, bound to the version shown."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from server.models.accounts import Office
from server.models.agreements import AgreementSignature
from server.models.docket import Case, Party
from server.sessions import create_invite, create_session
from server.web.keys import SESSIONMAKER
from tests.agreement_helpers import drafted_loan_case
from tests.e2e.conftest import SCREENSHOT_DIR, log_in
from tests.e2e.sessions import (  # the session room's own helpers
    open_page,
    pass_selftest_and_join,
    wait_place,
)
from tests.helpers import unit

pytestmark = pytest.mark.e2e


async def _world(live_server, live_user) -> tuple[str, int]:
    mediator = await live_user("med", "mediator", display_name="王调解")
    async with unit(live_server.app, mediator) as ctx:
        case = await drafted_loan_case(ctx, mediator, "（2026）晋0303民诉前调21号")
        session = await create_session(ctx, case, kind="mediation")
        _invite, url = await create_invite(ctx, session, case.parties[0])
        party_id = case.parties[0].id
    return url.rsplit("/", 1)[1], party_id


async def test_party_draws_and_signs(live_server, live_user, new_page):
    token, party_id = await _world(live_server, live_user)
    page = await new_page()
    await page.goto(f"/sign/{token}")
    # The agreement is in the page's own flow (issue 14), not in a frame.
    await page.locator(".agreement-text h1", has_text="调解协议书").wait_for()
    canvas = page.locator("canvas.signature-pad")
    await canvas.scroll_into_view_if_needed()
    box = await canvas.bounding_box()
    assert box is not None
    # Two strokes drawn with the mouse, as a person would.
    for stroke in ([(0.1, 0.7), (0.25, 0.2), (0.4, 0.75), (0.55, 0.3)],
                   [(0.6, 0.6), (0.75, 0.25), (0.9, 0.65)]):  # fmt: skip
        x0, y0 = stroke[0]
        await page.mouse.move(box["x"] + box["width"] * x0, box["y"] + box["height"] * y0)
        await page.mouse.down()
        for x, y in stroke[1:]:
            await page.mouse.move(box["x"] + box["width"] * x, box["y"] + box["height"] * y,
                                  steps=8)  # fmt: skip
        await page.mouse.up()
    await page.fill("input[name=typed_name]", "张三")
    await page.screenshot(path=str(SCREENSHOT_DIR / "agreement-party-drawn.png"), full_page=True)
    await page.click("form.signature-form button[type=submit]")
    await page.locator("text=您已签署本版本").wait_for()
    await page.locator(".agreement-text").get_by_text("张三").first.wait_for()
    await page.screenshot(path=str(SCREENSHOT_DIR / "agreement-party-signed.png"), full_page=True)

    async with live_server.app[SESSIONMAKER]() as db:
        sig = await db.scalar(select(AgreementSignature))
        assert sig is not None and sig.party_id == party_id and sig.typed_name == "张三"
        image = Image.open(io.BytesIO(sig.image_png))
        assert image.format == "PNG"
        alpha = image.convert("RGBA").getchannel("A")
        inked = alpha.width * alpha.height - alpha.histogram()[0]
        assert inked > 200, inked  # the strokes are in the picture, not a blank canvas


async def test_host_shows_the_agreement_in_the_session_room(
    media_browser,
    live_server,
    live_user,
):
    """In a live session (real WebRTC, fake camera) the mediator shows the agreement; the
    party's side panel loads the current version read-only and offers the link to sign."""
    token, _party_id = await _world(live_server, live_user)
    async with live_server.app[SESSIONMAKER]() as db:
        from server.models.sessions import Invite

        invite = await db.scalar(select(Invite))
        assert invite is not None
        sid = invite.session_id
    refused: list[str] = []  # offers the browsers could not apply
    host = await open_page(media_browser, live_server, refused)
    party = await open_page(media_browser, live_server, refused)
    await log_in(host, "med")
    await host.goto(f"/sessions/{sid}/join")
    await pass_selftest_and_join(host)
    await wait_place(host, "main")
    await party.goto(f"/join/{token}")
    party_pid = await pass_selftest_and_join(party, "张三")
    await wait_place(party, None)
    await host.click(f"#host-panel button[data-action=admit][data-pid='{party_pid}']")
    await wait_place(party, "main")

    await host.locator("#agreement-show").click()
    await party.locator("#agreement-frame:not([hidden])").wait_for()
    await party.frame_locator("#agreement-frame").locator("text=调解协议书").first.wait_for()
    link = party.locator("#agreement-sign-link")
    await link.wait_for()
    assert await link.get_attribute("href") == f"/sign/{token}"
    assert "王调解" in await party.locator("#agreement-by").inner_text()
    await party.screenshot(path=str(SCREENSHOT_DIR / "agreement-session-panel.png"))
    assert not refused, refused


async def test_mediator_drafts_with_live_preview(live_server, live_user, new_page):
    """The mediator fills an obligation and a clause; the preview beside the form shows the
    amount in words as typed; saving makes version 1, a later change version 2."""
    mediator = await live_user("med2", "mediator", display_name="周调解")
    async with live_server.app[SESSIONMAKER]() as db:
        office = await db.scalar(select(Office).where(Office.code == "qiaotou"))
        assert office is not None
        case = Case(cause="买卖合同纠纷", stage="pre_litigation_mediation", office_id=office.id,
                    mediator_id=mediator.id, was_pre_litigation=True)  # fmt: skip
        case.parties = [Party(side="applicant", name="王五"), Party(side="respondent", name="赵六")]
        db.add(case)
        await db.commit()
        case_id = case.id
    page = await new_page()
    await log_in(page, "med2")
    await page.goto(f"/cases/{case_id}/agreement")
    row = page.locator("fieldset.obligation").first
    await row.locator("[name=amount]").fill("12345.60")
    await row.locator("[name=due_date]").fill("2027-01-15")
    await row.locator("[name=description]").fill("货款")
    await page.fill("#clauses", "双方就本纠纷再无其他争议。")
    preview = page.frame_locator("#preview")
    await preview.locator("text=壹万贰仟叁佰肆拾伍元陆角").wait_for()
    await page.screenshot(path=str(SCREENSHOT_DIR / "agreement-drafting.png"), full_page=True)
    await page.click("#save")
    await page.locator("text=第 1 版").first.wait_for()
    await page.locator("fieldset.obligation [name=amount]").first.fill("12000")
    await page.click("#save")
    await page.locator("text=第 2 版").first.wait_for()
