"""The electronic case file (电子卷宗, issue 17 part 2): documents added by staff over the API
and by a party through their invitation link, the type read from the bytes, the size cap,
the SHA-256 kept, every upload and download audited, and bad input leaving nothing behind.
Who may do it (every role, another office, a party's link, anonymous) is
tests/test_document_access.py."""

from __future__ import annotations

import hashlib
import io
from urllib.parse import quote

import aiohttp
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from server.docket.documents import MAX_BYTES, root
from server.models.audit import AuditEntry
from server.models.docket import Case
from server.models.documents import CaseDocument
from server.models.sessions import Invite
from server.sessions import create_invite, create_session, revoke_invite
from server.web.keys import SESSIONMAKER, SETTINGS
from tests.helpers import api_token, audit_settled, csrf, login, make_user, unit
from tests.test_invites import make_case

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 20
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 500
PDF = b"%PDF-1.7\n" + b"1 0 obj << >> endobj\n" * 40 + b"%%EOF\n"


async def _world(client):
    med = await make_user(client, "med", "mediator", display_name="王调解员")
    case_id = await make_case(client, mediator_id=med.id)
    auth = {"Authorization": f"Bearer {await api_token(client, 'med')}"}
    return med, case_id, auth


def _upload(client, path: str, data: bytes, headers: dict[str, str], **query: str):
    q = "&".join(f"{k}={quote(v)}" for k, v in query.items())
    # A stream, as a browser sends a file (aiohttp warns about a large body given as bytes).
    body = io.BytesIO(data)
    return client.post(f"{path}?{q}", data=body, headers={**headers, "Content-Type": "image/jpeg"})


async def _stored(client) -> tuple[int, list[str]]:
    async with client.app[SESSIONMAKER]() as db:
        rows = await db.scalar(select(func.count()).select_from(CaseDocument))
    files = sorted(p.name for p in root(client.app[SETTINGS]).rglob("*") if p.is_file())
    return int(rows or 0), files


async def test_staff_add_list_and_download_a_document(client) -> None:
    _med, case_id, auth = await _world(client)
    base = f"/api/v1/cases/{case_id}/documents"
    resp = await _upload(client, base, JPEG, auth, filename="借条.jpg", title="  借条  照片 ")
    assert resp.status == 201, await resp.text()
    doc = await resp.json()
    assert doc["content_type"] == "image/jpeg" and doc["filename"] == "借条.jpg"
    assert doc["title"] == "借条 照片" and doc["size"] == len(JPEG)
    assert doc["sha256"] == hashlib.sha256(JPEG).hexdigest()
    assert (doc["source"], doc["brought_by"]) == ("staff", "王调解员")

    resp = await _upload(client, base, PDF, auth, filename="C:\\scans\\收据.pdf")
    assert resp.status == 201
    assert (await resp.json())["filename"] == "收据.pdf"  # no directories from the client

    listed = await (await client.get(base, headers=auth)).json()
    assert [d["filename"] for d in listed] == ["收据.pdf", "借条.jpg"]  # newest first

    got = await client.get(f"{base}/{doc['id']}", headers=auth)
    assert got.status == 200 and await got.read() == JPEG
    assert got.headers["Content-Type"] == "image/jpeg"
    assert got.headers["Cache-Control"] == "private, no-store"
    assert "filename*=UTF-8''%E5%80%9F%E6%9D%A1.jpg" in got.headers["Content-Disposition"]

    await audit_settled(client.app)
    async with client.app[SESSIONMAKER]() as db:
        actions = list(
            await db.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "document"))
        )
    assert sorted(actions) == ["document.downloaded", "document.uploaded", "document.uploaded"]


async def test_the_type_is_read_from_the_bytes_and_bad_input_stores_nothing(client) -> None:
    _med, case_id, auth = await _world(client)
    base = f"/api/v1/cases/{case_id}/documents"
    before = await _stored(client)
    # A page posing as a PDF (what an attacker would have a clerk open), an empty body, a
    # file over the cap, a name too long for its column: refused, nothing kept.
    for data, query, status in (
        (b"<html><script>alert(1)</script></html>", {"filename": "证据.pdf"}, 415),
        (b"GIF89a" + b"\x00" * 50, {"filename": "a.gif"}, 415),
        (b"", {"filename": "a.pdf"}, 400),
        (PDF + b"\x00" * MAX_BYTES, {"filename": "big.pdf"}, 413),
        (PDF, {"filename": "x" * 300}, 422),
        (PDF, {"filename": "a.pdf", "title": "题" * 201}, 422),
        (PDF, {}, 422),
    ):
        resp = await _upload(client, base, data, auth, **query)
        assert resp.status == status, (query, status, await resp.text())
        assert "error" in await resp.json()
    assert await _stored(client) == before
    # A PNG named .pdf is kept as what it is.
    resp = await _upload(client, base, PNG, auth, filename="scan.pdf")
    assert resp.status == 201
    doc = await resp.json()
    assert (doc["content_type"], doc["filename"]) == ("image/png", "scan.pdf.png")
    # Another case's document is not found through this case.
    other = await make_case(client)
    assert (
        await client.get(f"/api/v1/cases/{other}/documents/{doc['id']}", headers=auth)
    ).status == 404
    assert (await client.get(f"{base}/999999", headers=auth)).status == 404


async def test_a_party_adds_through_the_link_and_sees_only_their_own(client) -> None:
    med, case_id, auth = await _world(client)
    async with unit(client.app, med) as ctx:
        case = await ctx.db.get(Case, case_id)
        assert case is not None
        session = await create_session(ctx, case, kind="mediation")
        invite, url = await create_invite(ctx, session, case.parties[0])
    token = url.rsplit("/", 1)[1]
    mine = f"/api/v1/invites/{token}/documents"
    resp = await _upload(client, mine, JPEG, {}, filename="IMG_0001.JPG", title="欠条")
    assert resp.status == 201, await resp.text()
    doc = await resp.json()
    assert (doc["source"], doc["brought_by"], doc["filename"]) == ("party", "张三", "IMG_0001.JPG")
    assert (await _upload(client, f"/api/v1/cases/{case_id}/documents", PDF, auth,
                          filename="答辩状.pdf")).status == 201  # fmt: skip
    # Staff see both; the party sees what they gave, not the other side's papers.
    staff_view = await (await client.get(f"/api/v1/cases/{case_id}/documents", headers=auth)).json()
    assert {d["filename"] for d in staff_view} == {"IMG_0001.JPG", "答辩状.pdf"}
    party_view = await (await client.get(mine)).json()
    assert [d["filename"] for d in party_view] == ["IMG_0001.JPG"]
    # The upload is audited as the party.
    await audit_settled(client.app)
    async with client.app[SESSIONMAKER]() as db:
        actor = await db.scalar(
            select(AuditEntry.actor).where(
                AuditEntry.action == "document.uploaded", AuditEntry.object_id == str(doc["id"])
            )
        )
    assert actor == f"party:{case.parties[0].id}"
    # A withdrawn link adds nothing.
    async with unit(client.app, med) as ctx:
        row = await ctx.db.get(Invite, invite.id, options=[selectinload(Invite.session)])
        assert row is not None
        await revoke_invite(ctx, row)
    before = await _stored(client)
    assert (await _upload(client, mine, JPEG, {}, filename="b.jpg")).status == 403
    assert (await client.get(mine)).status == 403
    assert await _stored(client) == before
    assert (await _upload(client, "/api/v1/invites/forged/documents", JPEG, {},
                          filename="b.jpg")).status == 401  # fmt: skip


def _form(client, data: bytes, filename: str, title: str = "") -> aiohttp.FormData:
    # Unquoted, as a browser sends a file's name (raw UTF-8 in the part's header).
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("csrf_token", csrf(client))
    form.add_field("title", title)
    form.add_field("file", io.BytesIO(data), filename=filename, content_type="image/png")
    return form


async def test_the_case_page_lists_the_file_and_takes_an_upload(client) -> None:
    _med, case_id, _auth = await _world(client)
    await login(client, "med")
    page = await client.get(f"/cases/{case_id}")
    assert "电子卷宗" in await page.text() and "暂无材料" in await page.text()
    resp = await client.post(
        f"/cases/{case_id}/documents", data=_form(client, PNG, "现场.png", "现场照片"),
        allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 303 and resp.headers["Location"].endswith(f"/cases/{case_id}#documents")
    text = await (await client.get(f"/cases/{case_id}")).text()
    assert "现场照片" in text and "现场.png" in text and "王调解员" in text
    assert f'href="/api/v1/cases/{case_id}/documents/' in text
    # The link works with the page's own login (the cookie).
    href = text.split(f'href="/api/v1/cases/{case_id}/documents/', 1)[1].split('"', 1)[0]
    got = await client.get(f"/api/v1/cases/{case_id}/documents/{href}")
    assert got.status == 200 and await got.read() == PNG
    # A refused file: the case page again, saying why, and nothing kept.
    before = await _stored(client)
    resp = await client.post(
        f"/cases/{case_id}/documents", data=_form(client, b"MZ\x90\x00 not a document", "a.exe"),
    )  # fmt: skip
    assert resp.status == 415
    assert "电子卷宗" in await resp.text()
    assert await _stored(client) == before
    # Without the form's token: refused before anything is read.
    plain = aiohttp.FormData()
    plain.add_field("file", io.BytesIO(PNG), filename="b.png", content_type="image/png")
    assert (await client.post(f"/cases/{case_id}/documents", data=plain)).status == 403
    assert await _stored(client) == before
