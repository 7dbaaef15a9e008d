"""The party's signing page as a resident meets it (issue 14 items 4 and 6), in real Chromium
at 1366x768 and at 375x812 with touch: the whole agreement in the page's flow (no inner scroll
box, 协议内容 readable), "在此签名" in the empty pad until the first stroke, 清除 not styled as
the main button and apart from 签署, the version named by number and time (not its hash), and
after signing (by touch on the phone) a confirmation in view that says what happens next.

Party pages (pre-join, lobby, room, signing) opened by a party's link show no staff
navigation; staff in the same room keep theirs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Page

from tests.e2e.conftest import SCREENSHOT_DIR, log_in
from tests.e2e.sessions import pass_selftest_and_join, wait_place
from tests.e2e.test_sign_agreement import _world
from tests.e2e.touch import SIGN_BUTTON, pad_strokes, sign_by_finger, tap_to_sign
from tests.e2e.viewports import (
    DESKTOP,
    PHONE,
    SIZES,
    box_inside_viewport,
    box_of,
    inner_scrollers,
    open_at,
    overlap,
)

# The public menu and the staff log-in: what a party who came by invite must not be offered.
STAFF_NAV = """() => [...document.querySelectorAll('header a[href]')]
    .map(a => [a.getAttribute('href'), a.innerText.trim()])
    .filter(([href, text]) => ['/login', '/cases', '/schedule', '/intake', '/intake/track',
        '/reports', '/agreements'].includes(href) || ['登录', '案件', '排期', '网上接待',
        '统计报表'].includes(text))"""


async def staff_nav(page: Page) -> list[list[str]]:
    return await page.evaluate(STAFF_NAV)


async def _draw(page: Page, by_touch: bool) -> None:
    if by_touch:
        await sign_by_finger(page)
        return
    canvas = page.locator("canvas.signature-pad")
    await canvas.scroll_into_view_if_needed()
    box = await box_of(page, canvas)
    for points in pad_strokes(box):
        await page.mouse.move(*points[0])
        await page.mouse.down()
        for x, y in points[1:]:
            await page.mouse.move(x, y, steps=6)
        await page.mouse.up()


# Cells of the agreement's signature table laid out narrower than four characters: on a phone
# the signature's picture once took the row's width and left the signer's name and time one
# character a line.
SQUEEZED_SIGNATURE_CELLS = """() => {
  const root = document.querySelector('.agreement-text').shadowRoot;
  return [...root.querySelectorAll('table.sigs td')].filter(td => {
    const size = parseFloat(getComputedStyle(td).fontSize);
    return td.textContent.trim().length > 2 && td.getBoundingClientRect().width < 4 * size;
  }).map(td => td.textContent.trim());
}"""


async def _style(page: Page, selector: str) -> dict[str, Any]:
    return await page.locator(selector).evaluate(
        "el => { const s = getComputedStyle(el); return {bg: s.backgroundColor, "
        "color: s.color, border: s.borderTopColor}; }"
    )


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_a_resident_reads_the_whole_agreement_signs_and_is_told_what_next(
    browser, live_server, live_user, size
):
    token, _party_id = await _world(live_server, live_user)
    view = SIZES[size]
    page = await open_at(browser, live_server, view)
    await page.goto(f"/sign/{token}")

    # Party chrome: the court and the session, help, no staff menu and no log-in link.
    assert await staff_nav(page) == []
    assert "平潭区人民法院" in await page.locator("header").inner_text()
    await page.locator("header .party-help summary").wait_for()

    # The whole agreement is in the page's flow: no frame, no inner scroll box, and the
    # terms (who pays what, by when) readable where the page scrolls to.
    main = page.locator("main")
    assert await main.locator("iframe").count() == 0
    assert await inner_scrollers(page, "main") == []
    text = page.locator(".agreement-text")
    terms = text.get_by_text("协议内容")
    await terms.wait_for()
    pay = text.get_by_text("支付借款人民币30,000.00元", exact=False)
    await pay.scroll_into_view_if_needed()
    assert await box_inside_viewport(page, pay), "the obligation is cut off"
    assert await pay.is_visible()

    # The version by number and time; its hash only in the folded record.
    label = (await page.locator(".version-label").inner_text()).strip()
    assert re.fullmatch(r"第 1 版 · \d{4}-\d{2}-\d{2} \d{2}:\d{2}", label), label
    digest = await page.locator("form.signature-form").get_attribute("data-content-hash")
    assert digest and digest[:8] not in await main.inner_text()
    assert await page.locator("details.version-hash").count() == 1

    # The empty pad says where to sign; 清除 is not the main button and is apart from 签署.
    hint = page.locator(".signature-hint")
    assert await hint.is_visible() and (await hint.inner_text()).strip() == "在此签名"
    clear, submit = "form.signature-form [data-clear]", SIGN_BUTTON
    assert (await page.locator(clear).inner_text()).strip() == "清除"
    clear_style, submit_style = await _style(page, clear), await _style(page, submit)
    assert clear_style["bg"] != submit_style["bg"], (clear_style, submit_style)
    assert not await overlap(page, clear, submit)
    clear_box, submit_box = await box_of(page, clear), await box_of(page, submit)
    assert submit_box["y"] - (clear_box["y"] + clear_box["height"]) >= 24, (clear_box, submit_box)

    # The pad fits the screen (a phone's width, not wider).
    pad = await box_of(page, "canvas.signature-pad")
    width = view["viewport"]["width"]
    assert pad["x"] >= 0 and pad["x"] + pad["width"] <= width and pad["width"] >= 280

    await _draw(page, by_touch=view is PHONE)
    assert not await hint.is_visible(), "the prompt stays over the signature"
    await page.fill("input[name=typed_name]", "张三")
    await page.screenshot(path=str(SCREENSHOT_DIR / f"signing-{size}-drawn.png"), full_page=True)
    if view is PHONE:
        await tap_to_sign(page)
    else:
        await page.locator(submit).click()

    # After signing: the confirmation is on the screen, saying what happens next.
    done = page.locator("#sign-done")
    await done.wait_for()
    assert await box_inside_viewport(page, done), await box_of(page, done)
    said = await done.inner_text()
    for words in ("您已签署本版本", "接下来", "另一方当事人签署", "调解员最后签署", "法官",
                  "书记员", "可以关闭本页。如果"):  # fmt: skip
        assert words in said, (words, said)
    assert await inner_scrollers(page, "main") == []
    await page.locator(".agreement-text").get_by_text("张三").first.wait_for()
    await page.screenshot(path=str(SCREENSHOT_DIR / f"signing-{size}-signed.png"))
    # A signature made on a wide screen, read on a phone (the other party's, say).
    await page.set_viewport_size(PHONE["viewport"])
    assert await page.evaluate(SQUEEZED_SIGNATURE_CELLS) == []
    await page.context.close()


async def test_party_pages_have_no_staff_navigation_staff_keep_theirs(
    media_browser, live_server, live_user
):
    """Pre-join, lobby and room by the party's link (on a phone), signing too: no 登录, no
    案件/排期; the mediator in the same room (desktop) keeps the staff navigation."""
    token, _party_id = await _world(live_server, live_user)
    from sqlalchemy import select

    from server.models.sessions import Invite
    from server.web.keys import SESSIONMAKER

    async with live_server.app[SESSIONMAKER]() as db:
        invite = await db.scalar(select(Invite))
        assert invite is not None
        sid = invite.session_id
    host = await open_at(media_browser, live_server, DESKTOP)
    party = await open_at(media_browser, live_server, PHONE)
    await log_in(host, "med")
    await host.goto(f"/sessions/{sid}/join")
    hrefs = [href for href, _text in await staff_nav(host)]
    assert "/cases" in hrefs and "/schedule" in hrefs, hrefs  # staff keep their nav
    await pass_selftest_and_join(host)
    await wait_place(host, "main")

    await party.goto(f"/join/{token}")
    assert await staff_nav(party) == [], "pre-join"
    await party.locator("header .party-help").wait_for()
    party_pid = await pass_selftest_and_join(party, "张三")
    await wait_place(party, None)
    assert await staff_nav(party) == [], "lobby"
    await host.click(f"#host-panel button[data-action=admit][data-pid='{party_pid}']")
    await wait_place(party, "main")
    assert await staff_nav(party) == [], "room"
    assert "/cases" in [href for href, _text in await staff_nav(host)]

    signer = await open_at(media_browser, live_server, PHONE)
    await signer.goto(f"/sign/{token}")
    assert await staff_nav(signer) == [], "signing"
    for page in (host, party, signer):
        await page.context.close()
