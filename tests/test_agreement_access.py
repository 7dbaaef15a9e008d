"""Who may do what with an agreement: the access matrix over roles, offices, the party's
invite link and anonymous callers; judicial confirmation; the clerks' list and streamed zip."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest
from sqlalchemy import select

from server.models.audit import AuditEntry
from server.models.docket import Case
from server.web.keys import SESSIONMAKER
from tests.agreement_helpers import bearer, build_world, signature_png, terms_for
from tests.test_documents import JPEG


def _png() -> str:
    return "data:image/png;base64," + base64.b64encode(signature_png()).decode()


async def _seal(client, w, med):
    auth = {"Authorization": f"Bearer {med}"}
    resp = await client.post(f"/api/v1/cases/{w.case_id}/agreement",
                             json={"terms": terms_for(w)}, headers=auth)  # fmt: skip
    agreement = await resp.json()
    v = agreement["current_version"]
    sign = {"version_id": v["id"], "content_hash": v["content_hash"], "image_png": _png()}
    for pid, name in ((w.applicant_id, "张三"), (w.respondent_id, "李四")):
        resp = await client.post(
            f"/api/v1/invites/{w.tokens[pid]}/agreement/signatures",
            data=io.BytesIO(json.dumps({**sign, "typed_name": name}).encode()),
            headers={"Content-Type": "application/json"},
        )
        assert resp.status == 201, await resp.text()
    resp = await client.post(f"/api/v1/agreements/{agreement['id']}/signatures",
                             json={**sign, "typed_name": "王调解"}, headers=auth)  # fmt: skip
    assert resp.status == 201, await resp.text()
    return await resp.json()


# (who, may read the agreement, may download the sealed PDF, new terms over it, may zip).
# The sealed PDF (full ID numbers) goes to the case's assigned staff and the clerks; new
# terms only from the case's mediator (409 here: it is sealed); the zip to the clerks.
MATRIX = [
    ("mediator", 200, 200, 409, 403),
    ("mediator2", 200, 403, 403, 403),  # a mediator not assigned to the case
    ("judge", 200, 200, 403, 403),  # assigned, but the case is not in fast-track
    ("clerk", 200, 200, 403, 200),
    ("admin", 200, 403, 403, 403),
    ("staff_own", 200, 403, 403, 403),
    ("staff_other", 404, 404, 404, 403),
]


@pytest.mark.parametrize(("who", "read", "download", "rewrite", "zip_status"), MATRIX)
async def test_access_matrix(client, who, read, download, rewrite, zip_status):
    w = await build_world(client)
    agreement = await _seal(client, w, await bearer(client, "med"))
    username = w.users[who].username
    auth = {"Authorization": f"Bearer {await bearer(client, username)}"}
    aid = agreement["id"]
    assert (await client.get(f"/api/v1/agreements/{aid}", headers=auth)).status == read
    pdf = await client.get(f"/api/v1/agreements/{aid}/documents/agreement.pdf", headers=auth)
    assert pdf.status == download
    resp = await client.put(f"/api/v1/agreements/{aid}/terms",
                            json={"terms": terms_for(w, 1234)}, headers=auth)  # fmt: skip
    assert resp.status == rewrite, await resp.text()
    assert (await client.get("/api/v1/agreements/zip", headers=auth)).status == zip_status


async def test_party_link_and_anonymous(client):
    w = await build_world(client)
    agreement = await _seal(client, w, await bearer(client, "med"))
    aid = agreement["id"]
    # A party's link shows the agreement (and its document), nothing else.
    resp = await client.get(f"/api/v1/invites/{w.tokens[w.applicant_id]}/agreement")
    assert resp.status == 200 and (await resp.json())["id"] == aid
    resp = await client.get(f"/api/v1/invites/{w.tokens[w.applicant_id]}/agreement/document")
    assert resp.status == 200 and "调解协议书" in await resp.text()
    # A forged token, and anonymous callers on the staff routes, get nothing.
    assert (await client.get("/api/v1/invites/1.x.y/agreement")).status == 401
    for path in (f"/api/v1/agreements/{aid}", f"/api/v1/agreements/{aid}/documents/agreement.pdf",
                 "/api/v1/agreements", "/api/v1/agreements/zip"):  # fmt: skip
        assert (await client.get(path)).status == 401, path
    # The public verification view needs no login.
    code = agreement["documents"][0]["code"]
    assert (await client.get(f"/api/v1/verify/{code}")).status == 200


async def test_judicial_confirmation(client):
    w = await build_world(client)
    agreement = await _seal(client, w, await bearer(client, "med"))
    aid = agreement["id"]
    med = {"Authorization": f"Bearer {await bearer(client, 'med')}"}
    resp = await client.post(f"/api/v1/agreements/{aid}/confirm", json={}, headers=med)
    assert resp.status == 403
    judge = {"Authorization": f"Bearer {await bearer(client, 'judge')}"}
    resp = await client.post(f"/api/v1/agreements/{aid}/confirm", json={"note": "审查通过"},
                             headers=judge)  # fmt: skip
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["status"] == "confirmed"
    kinds = {d["kind"]: d for d in body["documents"]}
    assert set(kinds) == {"agreement", "ruling"}
    resp = await client.get(kinds["ruling"]["download_url"], headers=judge)
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(await resp.read())).pages)
    assert "民事裁定书" in text.replace(" ", "") and "民特" in text
    async with client.app[SESSIONMAKER]() as db:
        case = await db.get(Case, w.case_id)
        assert case is not None and case.stage == "judicial_confirmation"
        assert case.number is not None and "民特" in case.number
    # Twice: refused, nothing changed.
    resp = await client.post(f"/api/v1/agreements/{aid}/confirm", json={}, headers=judge)
    assert resp.status == 409


async def test_clerks_list_and_zip_hold_exactly_the_filtered_documents(client):
    w = await build_world(client)
    med = await bearer(client, "med")
    sealed = await _seal(client, w, med)
    # A second case in another office, left as a draft.
    w2 = await build_world_other(client, w)
    resp = await client.post(f"/api/v1/cases/{w2}/agreement",
                             json={"terms": {"clauses": ["另案条款"]}},
                             headers={"Authorization": f"Bearer {med}"})  # fmt: skip
    assert resp.status == 201, await resp.text()
    clerk = {"Authorization": f"Bearer {await bearer(client, 'clerk')}"}

    rows = await (await client.get("/api/v1/agreements", headers=clerk)).json()
    assert len(rows) == 2
    rows = await (await client.get("/api/v1/agreements?signed=true", headers=clerk)).json()
    assert [r["id"] for r in rows] == [sealed["id"]]
    rows = await (await client.get("/api/v1/agreements?office=caiwa", headers=clerk)).json()
    assert [r["case_id"] for r in rows] == [w2]
    rows = await (await client.get("/api/v1/agreements?stage=mediated", headers=clerk)).json()
    assert [r["id"] for r in rows] == [sealed["id"]]
    rows = await (await client.get("/api/v1/agreements?date_to=2000-01-01", headers=clerk)).json()
    assert rows == []

    # The case's file goes with its agreement (issue 17: the clerks archive them together).
    added = await client.post(
        f"/api/v1/cases/{w.case_id}/documents?filename=借条.jpg", data=io.BytesIO(JPEG),
        headers={"Authorization": f"Bearer {med}"},
    )  # fmt: skip
    assert added.status == 201, await added.text()
    doc_id = (await added.json())["id"]
    resp = await client.get("/api/v1/agreements/zip?office=shaping", headers=clerk)
    assert resp.status == 200 and resp.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(await resp.read())) as zf:
        names = zf.namelist()
        assert len(names) == 2 and names[0].endswith(f"{sealed['documents'][0]['code']}.pdf")
        assert zf.read(names[0])[:5] == b"%PDF-"
        assert names[1].endswith(f"-卷宗/{doc_id}-借条.jpg") and zf.read(names[1]) == JPEG
    resp = await client.get("/api/v1/agreements/zip?office=caiwa", headers=clerk)
    with zipfile.ZipFile(io.BytesIO(await resp.read())) as zf:
        assert zf.namelist() == []
    async with client.app[SESSIONMAKER]() as db:
        rows = list(await db.scalars(select(AuditEntry).where(
            AuditEntry.action == "agreement.download")))  # fmt: skip
    assert [r.detail["via"] for r in rows] == ["zip"]
    async with client.app[SESSIONMAKER]() as db:
        rows = list(await db.scalars(select(AuditEntry).where(
            AuditEntry.action == "document.downloaded")))  # fmt: skip
    assert [(r.object_id, r.detail["via"]) for r in rows] == [(str(doc_id), "zip")]


async def build_world_other(client, w) -> int:
    """A second case, office caiwa, same mediator; returns its id."""
    from server.models.accounts import Office
    from server.models.docket import Party

    async with client.app[SESSIONMAKER]() as db:
        office = await db.scalar(select(Office).where(Office.code == "caiwa"))
        assert office is not None
        case = Case(cause="物业服务合同纠纷", stage="pre_litigation_mediation",
                    office_id=office.id, mediator_id=w.users["mediator"].id,
                    was_pre_litigation=True)  # fmt: skip
        case.parties = [Party(side="applicant", name="某物业公司", kind="organisation"),
                        Party(side="respondent", name="孙五")]  # fmt: skip
        db.add(case)
        await db.commit()
        return case.id
