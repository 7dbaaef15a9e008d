"""In real headless Chromium: the mediator shows a photo from the case file (电子卷宗) to the
room, and the party, who joined by their invitation link, sees it in their page; a PDF shown
next is offered as a link that opens it through the party's own link; the party adds a photo
of their own from the room, and a file of another kind is refused with the reason."""

from __future__ import annotations

import asyncio
import io

from PIL import Image
from playwright.async_api import Browser
from sqlalchemy import select

from server.docket import documents
from server.models.docket import Case
from server.models.sessions import MediationSession
from tests.e2e.conftest import SCREENSHOT_DIR, LiveServer, LiveUser
from tests.e2e.sessions import (
    host_in_main,
    open_page,
    pass_selftest_and_join,
    seed,
    wait_place,
)
from tests.helpers import unit
from tests.test_documents import PDF


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


async def test_the_host_shows_a_photo_and_the_party_sees_it(
    media_browser: Browser, live_server: LiveServer, live_user: LiveUser
) -> None:
    sid, invite_url = await seed(live_server, live_user)
    async with unit(live_server.app) as ctx:
        session = await ctx.db.get(MediationSession, sid)
        assert session is not None
        case = await ctx.db.scalar(select(Case).where(Case.id == session.case_id))
        assert case is not None
        photo = await documents.add_document(ctx, case, _photo(), filename="借条.jpg",
                                             title="借条照片")  # fmt: skip
        pdf = await documents.add_document(ctx, case, PDF, filename="收据.pdf", title="收据")
        photo_id, pdf_id = photo.id, pdf.id
    refused: list[str] = []
    host, _host_pid = await host_in_main(media_browser, live_server, refused, sid)
    party = await open_page(media_browser, live_server, refused)
    await party.goto(invite_url.removeprefix(live_server.url))
    party_pid = await pass_selftest_and_join(party, "张三")
    await wait_place(party, None)
    await host.click(f"#host-panel button[data-action=admit][data-pid='{party_pid}']")
    await wait_place(party, "main")
    assert await party.locator("#document-show").count() == 0  # no controls for a party

    await host.select_option("#document-choice", str(photo_id))
    await host.click("#document-show-button")
    await party.wait_for_selector("#document-shown:not([hidden]) #document-image:not([hidden])")
    size = await party.evaluate(
        "() => { const i = document.getElementById('document-image');"
        " return [i.naturalWidth, i.naturalHeight]; }"
    )
    assert size == [320, 200]
    assert await party.text_content("#document-by") == "王调解员"
    href = await party.get_attribute("#document-open", "href")
    assert href is not None and href.endswith(f"/documents/{photo_id}") and "/invites/" in href
    await party.screenshot(path=str(SCREENSHOT_DIR / "room-document-shown.png"))

    # A PDF: no picture, the link opens it through the party's link.
    await host.select_option("#document-choice", str(pdf_id))
    await host.click("#document-show-button")
    await party.wait_for_function(
        "(id) => document.getElementById('document-open').href.endsWith('/documents/' + id)",
        arg=pdf_id,
    )
    assert await party.locator("#document-image").is_hidden()
    href = await party.get_attribute("#document-open", "href")
    for _ in range(50):  # the showing is recorded a moment after the room is told
        resp = await party.request.get(href or "")
        if resp.status != 404:
            break
        await asyncio.sleep(0.1)
    assert resp.status == 200 and (await resp.body())[:5] == b"%PDF-"

    # The party adds a photo of their own evidence from the room: it is in the case file,
    # as theirs; a file of another kind is refused with the reason.
    await party.set_input_files(
        "#party-file", files=[{"name": "欠条.jpg", "mimeType": "image/jpeg", "buffer": _photo()}]
    )
    await party.wait_for_function(
        "() => document.getElementById('party-file-list').textContent.includes('欠条.jpg')"
    )
    assert (await party.text_content("#party-file-status") or "").endswith("已加入卷宗：欠条.jpg")
    async with unit(live_server.app) as ctx:
        kept = await documents.documents_of(ctx, case)
    assert (kept[0].filename, kept[0].source) == ("欠条.jpg", "party")  # the newest
    await party.set_input_files(
        "#party-file", files=[{"name": "a.txt", "mimeType": "text/plain", "buffer": b"hello"}]
    )
    await party.wait_for_function(
        "() => document.getElementById('party-file-status').textContent.includes('只能提交 PDF')"
    )
    await party.screenshot(path=str(SCREENSHOT_DIR / "room-party-upload.png"), full_page=True)
    assert await host.locator("#party-files").count() == 0  # staff use the case page
    assert refused == []
