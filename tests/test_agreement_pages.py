"""The agreement pages: the mediator's drafting page, the party's signing page behind the
invite link, the clerks' list, and the public verification page with its PDF upload (its
own body cap: a PDF larger than max_body_bytes is accepted, one over the cap is a 413)."""

from __future__ import annotations

import io
import re

from aiohttp import FormData

from server.api.agreement_verify import PDF_CAP
from tests.agreement_helpers import bearer, build_world, terms_for
from tests.helpers import login
from tests.test_agreement_access import _seal


def _form(data: bytes) -> FormData:
    form = FormData()
    form.add_field("pdf", io.BytesIO(data), filename="a.pdf", content_type="application/pdf")
    return form


async def test_verify_page_and_upload(client):
    w = await build_world(client)
    agreement = await _seal(client, w, await bearer(client, "med"))
    doc = agreement["documents"][0]
    clerk = {"Authorization": f"Bearer {await bearer(client, 'clerk')}"}
    pdf = await (await client.get(doc["download_url"], headers=clerk)).read()
    anon = client  # no login: the page is public
    resp = await anon.get(f"/verify/{doc['code'].lower()}")
    html = await resp.text()
    assert resp.status == 200 and "张*" in html and "张三" not in html
    assert doc["sha256"] in html and "完好有效" in html

    resp = await anon.post(f"/verify/{doc['code']}", data=_form(pdf))
    assert resp.status == 200 and "是签章原件" in await resp.text()
    broken = bytearray(pdf)
    broken[len(broken) // 3] ^= 0x20
    resp = await anon.post(f"/verify/{doc['code']}", data=_form(bytes(broken)))
    assert resp.status == 200 and "不是签章原件" in await resp.text()
    # Bigger than max_body_bytes (1 MB) but under the page's own cap: still checked.
    padded = pdf + b"\n%" + b"x" * 1_200_000
    resp = await anon.post(f"/verify/{doc['code']}", data=_form(padded))
    assert resp.status == 200 and "不是签章原件" in await resp.text()
    resp = await anon.post(
        f"/api/v1/verify/{doc['code']}",
        data=io.BytesIO(b"%PDF-" + b"0" * (PDF_CAP + 10)),
        headers={"Content-Type": "application/pdf"},
    )
    assert resp.status == 413
    # A PDF over the cap in the page's form: the page says how large an upload may be.
    resp = await anon.post(f"/verify/{doc['code']}", data=_form(b"%PDF-" + b"0" * PDF_CAP))
    assert resp.status == 413 and "上传的内容超过 32 MB" in await resp.text()
    assert (await anon.get("/verify/NOSUCHCODE")).status == 404


async def test_party_sign_page_and_drafting_page(client):
    w = await build_world(client)
    resp = await client.get(f"/sign/{w.tokens[w.applicant_id]}")
    assert resp.status == 200 and "调解员尚未起草" in await resp.text()
    med = await bearer(client, "med")
    resp = await client.post(f"/api/v1/cases/{w.case_id}/agreement",
                             json={"terms": terms_for(w)},
                             headers={"Authorization": f"Bearer {med}"})  # fmt: skip
    assert resp.status == 201
    resp = await client.get(f"/sign/{w.tokens[w.applicant_id]}")
    html = await resp.text()
    assert "signature-pad" in html and "签署本版本" in html
    assert (await client.get("/sign/1.bad.token")).status == 401

    await login(client, "med")
    html = await (await client.get(f"/cases/{w.case_id}/agreement")).text()
    assert 'id="editor"' in html and "保存为新版本" in html
    # Version 1 is saved: the preview is of what saving would make, and says so.
    assert "<h2>预览：保存后的第 2 版</h2>" in html
    resp = await client.post(
        f"/api/v1/cases/{w.case_id}/agreement/preview",
        json={"terms": terms_for(w, 123456)},
        headers={"X-CSRF-Token": client.session.cookie_jar.filter_cookies(client.make_url("/"))
                 ["cl_csrf"].value},
    )  # fmt: skip
    assert resp.status == 200 and "壹仟贰佰叁拾肆元伍角陆分" in await resp.text()


async def test_clerks_list_page(client):
    w = await build_world(client)
    await _seal(client, w, await bearer(client, "med"))
    await login(client, "clerk")
    html = await (await client.get("/agreements?signed=true")).text()
    assert "（2026）晋0303民诉前调1号" in html and "agreements/zip?signed=true" in html
    assert 'agreement.pdf">调解协议书</a>' in html  # named by its title
    html = await (await client.get("/agreements?signed=false")).text()
    assert "没有符合条件的调解协议" in html
    # The case's agreement page names the sealed document by its title, not its kind's key.
    html = await (await client.get(f"/cases/{w.case_id}/agreement")).text()
    assert "下载已签章的 PDF（调解协议书，" in html and "(agreement," not in html


async def test_session_room_carries_the_agreement_panel(client):
    w = await build_world(client)
    resp = await client.get(f"/join/{w.tokens[w.applicant_id]}")
    html = await resp.text()
    assert resp.status == 200, html
    assert 'id="agreement-view"' in html and 'data-party="1"' in html
    assert "/static/js/agreement_panel.js" in html
    await login(client, "med")
    html = await (await client.get(f"/sessions/{w.session_id}/join")).text()
    assert 'id="agreement-show"' in html and 'data-party=""' in html


async def test_the_staff_agreement_page_shows_the_text_in_the_page_and_names_the_version(client):
    """The agreement's text stands in the page's own flow (no frame, no inner scroll box);
    the version is named by number and time, its hash kept in a small line for the record."""
    w = await build_world(client)
    med = await bearer(client, "med")
    resp = await client.post(f"/api/v1/cases/{w.case_id}/agreement",
                             json={"terms": terms_for(w)},
                             headers={"Authorization": f"Bearer {med}"})  # fmt: skip
    digest = (await resp.json())["current_version"]["content_hash"]
    await login(client, "judge")  # assigned, reads the original, does not draft
    html = await (await client.get(f"/cases/{w.case_id}/agreement")).text()
    assert "<iframe" not in html
    text = html[html.index('class="agreement-text"') :]
    assert text.index('<template shadowrootmode="open">') < text.index("伍万元整")
    assert re.search(r'class="version-label">第 1 版 · \d{4}-\d\d-\d\d \d\d:\d\d<', html)
    assert re.search(rf'<p class="version-hash[^"]*">[^<]*<code>{digest}</code>', html)
    assert not re.search(r"<h\d[^>]*>[^<]*" + digest[:16], html)  # no hash in a heading
    # Who may see the case but not the original sees neither text nor its frame.
    await login(client, "med2")
    html = await (await client.get(f"/cases/{w.case_id}/agreement")).text()
    assert "伍万元整" not in html and "<iframe" not in html and "第 1 版" in html
