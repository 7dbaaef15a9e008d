"""A new clerk's day in real Chromium: log in, register a case, record both parties' consent,
move it to pre-litigation mediation, then filed, then fast-track, and (the deadline set five
working days back in the database, since nobody can wait a week) find it on the overdue
list. And a resident's online submission, tracked by its code.

Screenshots of the case page and the docket go to /tmp (``COURTLINK_SCREENSHOTS``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from server.models.docket import Case
from server.web.keys import CALENDAR, SESSIONMAKER
from tests.docket_helpers import OTHER_ID, PERSON_ID
from tests.e2e.conftest import SCREENSHOT_DIR, LiveServer, log_in

pytestmark = pytest.mark.e2e


async def _click_and_wait(page: Page, name: str) -> None:
    async with page.expect_navigation():
        await page.get_by_role("button", name=name, exact=True).click()


async def test_clerk_registers_and_moves_a_case_to_overdue(
    live_server: LiveServer, new_page, live_user
):
    await live_user("wangfang", "clerk", display_name="王芳")
    page = await new_page()
    await log_in(page, "wangfang")
    await expect(page.get_by_role("heading", name="案件", exact=True)).to_be_visible()

    # Register a case from the docket.
    await page.get_by_role("link", name="登记案件").click()
    await expect(page.get_by_role("heading", name="登记案件")).to_be_visible()
    await page.fill("input[name=party-0-name]", "张三")
    await page.fill("input[name=party-0-id_number]", PERSON_ID)
    await page.fill("input[name=party-0-phone]", "13800000001")
    await page.fill("input[name=party-0-address]", "平潭街道建设路12号")
    await page.fill("input[name=party-1-name]", "李四")
    await page.fill("input[name=party-1-id_number]", OTHER_ID)
    await page.fill("input[name=cause]", "民间借贷纠纷")
    await page.fill("input[name=claim_yuan]", "12,345.60")
    await page.fill("textarea[name=facts]", "2025年3月借款一万二千余元，约定半年归还，至今未还。")
    await _click_and_wait(page, "登记")
    assert re.search(r"/cases/\d+$", page.url), page.url
    case_id = int(page.url.rsplit("/", 1)[1])
    await expect(page.locator("#stage-badge")).to_have_text("登记")
    await expect(page.get_by_text("¥12,345.60")).to_be_visible()

    # Both parties agree to mediate.
    for name in ("张三", "李四"):
        await _click_and_wait(page, f"{name}：记录：同意")
    await expect(page.locator("#parties .badge.ok")).to_have_count(2)

    # Pre-litigation mediation, then filed, then fast-track: one button per allowed move.
    await _click_and_wait(page, "转为诉前调解")
    await expect(page.locator("#stage-badge")).to_have_text("诉前调解")
    await expect(page.locator("h1")).to_contain_text("民诉前调")
    await _click_and_wait(page, "转为立案")
    await expect(page.locator("#stage-badge")).to_have_text("立案")
    await expect(page.locator("h1")).to_contain_text("民初")
    await _click_and_wait(page, "转为速裁")
    await expect(page.locator("#stage-badge")).to_have_text("速裁")
    await expect(page.locator("#stage .badge.ok")).to_have_text("期限内")

    # Five working days pass (set in the database).
    today = datetime.now(live_server.settings.tz).date()
    async with live_server.app[SESSIONMAKER]() as db:
        case = await db.get(Case, case_id)
        assert case is not None and case.stage == "fast_track"
        case.fast_track_entered_on = today - timedelta(days=14)
        case.fast_track_deadline = live_server.app[CALENDAR].add_workdays(
            case.fast_track_entered_on, 5
        )
        await db.commit()

    await page.reload()
    await expect(page.locator("#stage .badge.overdue")).to_have_text("已超期")
    await expect(page.locator("#timeline li")).to_have_count(6)
    await page.screenshot(path=str(SCREENSHOT_DIR / "courtlink_case.png"), full_page=True)

    await page.get_by_role("link", name="案件", exact=True).click()
    await page.get_by_role("link", name=re.compile("^已超期")).click()
    await expect(page).to_have_url(re.compile(r"/cases\?overdue=1$"))
    row = page.locator("table.cases tbody tr")
    await expect(row).to_have_count(1)
    await expect(row.locator(".badge.overdue")).to_have_text("已超期")
    await expect(row).to_contain_text("张三")
    await page.screenshot(path=str(SCREENSHOT_DIR / "courtlink_docket.png"), full_page=True)

    # An illegal move from a stale page is refused with the reason (409), not a crash.
    response = await page.request.post(
        f"/cases/{case_id}/move",
        form={"to": "closed", "csrf_token": await _csrf(page)},
    )
    assert response.status == 409
    assert "可以转为" in await response.text()


async def _csrf(page: Page) -> str:
    token = await page.locator("meta[name=csrf-token]").get_attribute("content")
    assert token
    return token


async def test_resident_submits_online_and_tracks_it(live_server: LiveServer, new_page):
    page = await new_page()
    await page.goto("/intake")
    await expect(page.get_by_role("heading", name=re.compile("网上接待"))).to_be_visible()
    await page.fill("input[name=applicant_name]", "赵六")
    await page.fill("input[name=applicant_phone]", "13700001111")
    await page.fill("input[name=respondent_name]", "钱七")
    await page.fill("input[name=cause]", "相邻关系纠纷")
    await page.fill("textarea[name=facts]", "楼上漏水，多次协商未果。")
    await page.fill("input[name=claim_yuan]", "3000")
    await page.get_by_label("同意调解", exact=True).check()
    await page.select_option("select[name=office]", "saiyu")
    await page.screenshot(path=str(SCREENSHOT_DIR / "courtlink_intake.png"), full_page=True)
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交").click()
    code = (await page.locator("#tracking-code").inner_text()).strip()
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}", code), code
    await page.screenshot(path=str(SCREENSHOT_DIR / "courtlink_intake_done.png"), full_page=True)

    await page.get_by_role("link", name="查看进度").click()
    await expect(page.locator(".stage-now .badge")).to_have_text("登记")
    body = await page.locator("main").inner_text()
    assert "赵六" not in body and "钱七" not in body and "13700001111" not in body
