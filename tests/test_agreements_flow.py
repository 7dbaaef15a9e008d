"""The whole agreement path through the real app: draft, versions, parties sign by invite
link, the mediator signs last, the sealed PDF (Chinese text, embedded CJK font, a PAdES
signature pyHanko finds intact over the whole file), verification, bad input."""

from __future__ import annotations

import base64
import hashlib
import io
import json

from pypdf import PdfReader
from sqlalchemy import func, select

from server.agreements import pki
from server.models.agreements import AgreementSignature, AgreementVersion
from server.models.audit import AuditEntry
from server.models.docket import Case
from server.web.keys import SESSIONMAKER, SETTINGS
from tests.agreement_helpers import bearer, build_world, signature_png, terms_for


def _b64(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


async def _draft(client, w, token):
    resp = await client.post(
        f"/api/v1/cases/{w.case_id}/agreement",
        json={"terms": terms_for(w), "session_id": w.session_id},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def _party_sign(client, w, signer_id, agreement, name, **over):
    body = {
        "version_id": agreement["current_version"]["id"],
        "content_hash": agreement["current_version"]["content_hash"],
        "typed_name": name,
        "image_png": _b64(signature_png(signer_id)),
        **over,
    }
    # A BytesIO body: aiohttp warns (an error here) on large raw bodies.
    return await client.post(
        f"/api/v1/invites/{w.tokens[signer_id]}/agreement/signatures",
        data=io.BytesIO(json.dumps(body).encode()),
        headers={"Content-Type": "application/json"},
    )


async def _sealed(client):
    w = await build_world(client)
    med = await bearer(client, "med")
    agreement = await _draft(client, w, med)
    for pid, name in ((w.applicant_id, "张三"), (w.respondent_id, "李四")):
        resp = await _party_sign(client, w, pid, agreement, name)
        assert resp.status == 201, await resp.text()
    v = agreement["current_version"]
    resp = await client.post(
        f"/api/v1/agreements/{agreement['id']}/signatures",
        json={"version_id": v["id"], "content_hash": v["content_hash"], "typed_name": "王调解",
              "image_png": _b64(signature_png(9))},
        headers={"Authorization": f"Bearer {med}"},
    )  # fmt: skip
    assert resp.status == 201, await resp.text()
    return w, med, await resp.json()


async def test_sign_seal_and_verify(client):
    w, med, agreement = await _sealed(client)
    assert agreement["status"] == "sealed"
    doc = agreement["documents"][0]
    resp = await client.get(doc["download_url"], headers={"Authorization": f"Bearer {med}"})
    assert resp.status == 200
    pdf = await resp.read()
    assert hashlib.sha256(pdf).hexdigest() == doc["sha256"]

    # pypdf reads the Chinese back, and the embedded font is the CJK one.
    reader = PdfReader(io.BytesIO(pdf))
    text = "".join(p.extract_text() for p in reader.pages)
    for words in ("调解协议书", "张三", "李四", "民间借贷纠纷", "伍万元整", doc["code"]):
        assert words in text.replace(" ", ""), words
    embedded = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            f = font.get_object()
            for d in f.get("/DescendantFonts", []):
                desc = d.get_object()["/FontDescriptor"].get_object()
                if "/FontFile2" in desc or "/FontFile3" in desc:
                    embedded.add(str(desc["/FontName"]))
    assert any(n.split("+")[-1].startswith("Noto-Sans-SC") for n in embedded), embedded

    # pyHanko: intact, valid, trusted, covering the whole file.
    roots = pki.court_key(client.app[SETTINGS]).trust_roots
    report = await pki.validate(pdf, roots)
    assert report.ok and report.whole_file and report.intact, report

    # One changed byte: validation and /verify both say no.
    broken = bytearray(pdf)
    broken[len(broken) // 2] ^= 0x01
    assert not (await pki.validate(bytes(broken), roots)).ok
    code = doc["code"]
    resp = await client.post(f"/api/v1/verify/{code}", data=bytes(broken),
                             headers={"Content-Type": "application/pdf"})  # fmt: skip
    assert resp.status == 200 and (await resp.json())["original"] is False
    resp = await client.post(f"/api/v1/verify/{code}", data=pdf,
                             headers={"Content-Type": "application/pdf"})  # fmt: skip
    body = await resp.json()
    assert body["original"] is True and body["signature"]["ok"] is True

    resp = await client.get(f"/api/v1/verify/{code}")
    view = await resp.json()
    assert view["parties"] == ["张*", "李*"] and view["status"] == "valid"
    assert view["number"] == "（2026）晋0303民诉前调1号"

    # The sealed agreement recorded the successful mediation through the stage machine.
    async with client.app[SESSIONMAKER]() as db:
        case = await db.get(Case, w.case_id)
        assert case is not None and case.stage == "mediated"
        actions = list(await db.scalars(select(AuditEntry.action)))
    assert actions.count("agreement.sign") == 3 and "agreement.seal" in actions
    assert "agreement.download" in actions


async def test_stale_version_and_double_signing_refused(client):
    w = await build_world(client)
    med = await bearer(client, "med")
    agreement = await _draft(client, w, med)
    resp = await _party_sign(client, w, w.applicant_id, agreement, "张三")
    assert resp.status == 201
    resp = await _party_sign(client, w, w.applicant_id, agreement, "张三")
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "already_signed"

    # The mediator changes the text: the applicant's signature is void, told clearly.
    terms = terms_for(w, amount=4_000_000)
    resp = await client.put(f"/api/v1/agreements/{agreement['id']}/terms", json={"terms": terms},
                            headers={"Authorization": f"Bearer {med}"})  # fmt: skip
    saved = await resp.json()
    assert resp.status == 200 and saved["voided_signatures"] == 1
    assert saved["message"] == "上一版本的 1 个签名已作废，当事人须重新签署"
    assert saved["agreement"]["current_version"]["number"] == 2
    assert saved["agreement"]["signatures"] == []

    # Signing the old version now: 409 stale_version, nothing written.
    resp = await _party_sign(client, w, w.respondent_id, agreement, "李四")
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "stale_version"
    async with client.app[SESSIONMAKER]() as db:
        n = await db.scalar(select(func.count()).select_from(AgreementSignature))
        versions = await db.scalar(select(func.count()).select_from(AgreementVersion))
    assert n == 1 and versions == 2


async def test_bad_input_refused_and_nothing_changed(client):
    w = await build_world(client)
    med = await bearer(client, "med")
    auth = {"Authorization": f"Bearer {med}"}
    url = f"/api/v1/cases/{w.case_id}/agreement"
    empty = {"terms": {"obligations": [], "clauses": []}}
    assert (await client.post(url, json=empty, headers=auth)).status == 422
    for amount in (0, -5, 10.5, "100", True):
        resp = await client.post(url, json={"terms": terms_for(w, amount)}, headers=auth)
        assert resp.status == 422, amount
    agreement = await _draft(client, w, med)
    # Not a PNG; larger than 1 MB; a party signing for the other; a wrong typed name.
    gif = base64.b64encode(b"GIF89a" + b"0" * 100).decode()
    resp = await _party_sign(client, w, w.applicant_id, agreement, "张三", image_png=gif)
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "not_png"
    big = signature_png() + b"\0" * 1_100_000
    resp = await _party_sign(client, w, w.applicant_id, agreement, "张三", image_png=_b64(big))
    assert resp.status == 413
    resp = await _party_sign(client, w, w.applicant_id, agreement, "张三",
                             party_id=w.respondent_id)  # fmt: skip
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "not_your_party"
    resp = await _party_sign(client, w, w.applicant_id, agreement, "李四")
    assert resp.status == 422
    # The mediator may not sign before the parties.
    v = agreement["current_version"]
    resp = await client.post(
        f"/api/v1/agreements/{agreement['id']}/signatures",
        json={"version_id": v["id"], "content_hash": v["content_hash"], "typed_name": "王调解",
              "image_png": _b64(signature_png())},
        headers=auth,
    )  # fmt: skip
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "parties_first"
    async with client.app[SESSIONMAKER]() as db:
        assert await db.scalar(select(func.count()).select_from(AgreementSignature)) == 0


async def test_party_signs_after_the_session_ended_but_not_with_a_revoked_link(client):
    from server.models.sessions import Invite, MediationSession
    from server.sessions import end_session, revoke_invite
    from tests.helpers import unit

    w = await build_world(client)
    med = await bearer(client, "med")
    agreement = await _draft(client, w, med)
    async with unit(client.app, w.users["mediator"]) as ctx:
        session = await ctx.db.get(MediationSession, w.session_id)
        assert session is not None
        await end_session(ctx, session)
        invite = await ctx.db.scalar(select(Invite).where(Invite.party_id == w.respondent_id))
        assert invite is not None
        await revoke_invite(ctx, invite)
    resp = await _party_sign(client, w, w.applicant_id, agreement, "张三")
    assert resp.status == 201, await resp.text()
    resp = await _party_sign(client, w, w.respondent_id, agreement, "李四")
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "invite_revoked"
