"""Bad input to the docket API: each gets the JSON error shape {"error": {"code", "message"}}
with the right 4xx, and nothing is half-written (row counts unchanged)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from server.models.audit import AuditEntry
from server.models.base import utcnow
from server.models.docket import Case, CaseNumber, Consent, DocketEntry, Party
from server.web.keys import COURT, SETTINGS
from tests.docket_helpers import PERSON_ID, bearer, new_case, session
from tests.helpers import csrf, login, make_user

TABLES = (Case, Party, Consent, DocketEntry, CaseNumber, AuditEntry)
GOOD = {"cause": "民间借贷纠纷", "claim_fen": 100}


async def counts(client: TestClient) -> dict[str, int]:
    async with session(client) as db:
        return {
            t.__tablename__: int(await db.scalar(select(func.count()).select_from(t)) or 0)
            for t in TABLES
        }


async def expect(resp: ClientResponse, status: int, code: str | None = None) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    if code is not None:
        assert body["error"]["code"] == code, body
    return body


@pytest.fixture
async def clerk(client: TestClient) -> dict[str, str]:
    await make_user(client, "clerk1", "clerk")
    return await bearer(client, "clerk1")


BAD_BODIES = [
    pytest.param(b'{"cause": "x",', 400, "malformed_json", id="truncated-json"),
    pytest.param(b"\xff\xfe", 400, "malformed_json", id="not-utf8"),
    pytest.param(b'["cause"]', 400, "malformed_json", id="array-not-object"),
    pytest.param(b"", 400, "malformed_json", id="empty"),
    pytest.param(b'{"cause": 5}', 422, "invalid", id="cause-number"),
    pytest.param(b'{"cause": "x", "claim_fen": "abc"}', 422, "invalid", id="claim-text"),
    pytest.param(b'{"cause": "x", "claim_fen": true}', 422, "invalid", id="claim-bool"),
    pytest.param(b'{"cause": "x", "claim_fen": 1.5}', 422, "invalid", id="claim-fraction"),
    pytest.param(b'{"cause": "x", "claim_fen": -1}', 422, "invalid", id="claim-negative"),
    pytest.param(b'{"cause": "x", "claim_fen": 1e30}', 422, "invalid", id="claim-huge"),
    pytest.param(b'{"cause": ""}', 422, "invalid", id="cause-empty"),
    pytest.param(b'{"cause": "x", "parties": {}}', 422, "invalid", id="parties-object"),
    pytest.param(b'{"cause": "x", "color": "red"}', 422, "invalid", id="unknown-field"),
    pytest.param(
        b'{"cause": "x", "parties": [{"side": "applicant", "name": "a", "x": 1}]}',
        422,
        "invalid",
        id="unknown-party-field",
    ),
    pytest.param(
        b'{"cause": "x", "parties": [{"side": "plaintiff", "name": "a"}]}',
        422,
        "invalid",
        id="bad-side",
    ),
    pytest.param(
        b'{"cause": "x", "parties": [{"side": "applicant", "name": "a",'
        b' "id_number": "140303199003071233"}]}',
        422,
        "invalid",
        id="bad-id-check-digit",
    ),
    pytest.param(
        b'{"cause": "x", "parties": [{"side": "applicant", "name": "a"},'
        b' {"side": "respondent", "name": "b", "email": "not-an-address"}]}',
        422,
        "invalid",
        id="second-party-bad",
    ),
    pytest.param(b'{"cause": "x", "office": "atlantis"}', 422, "unknown_office", id="office"),
]


@pytest.mark.parametrize(("raw", "status", "code"), BAD_BODIES)
async def test_bad_create_bodies(
    client: TestClient, clerk: dict[str, str], raw: bytes, status: int, code: str
) -> None:
    before = await counts(client)
    resp = await client.post(
        "/api/v1/cases", data=raw, headers={**clerk, "Content-Type": "application/json"}
    )
    body = await expect(resp, status, code)
    if status == 422 and code == "invalid":
        assert body["error"]["details"]  # which field, for the client to show
    assert await counts(client) == before


async def test_wrong_content_type(client: TestClient, clerk: dict[str, str]) -> None:
    before = await counts(client)
    resp = await client.post(
        "/api/v1/cases", data="cause=x", headers={**clerk, "Content-Type": "text/plain"}
    )
    await expect(resp, 415, "unsupported_media_type")
    resp = await client.post("/api/v1/cases", data={"cause": "x"}, headers=clerk)
    await expect(resp, 415, "unsupported_media_type")
    assert await counts(client) == before


async def test_oversized_body(client: TestClient, clerk: dict[str, str]) -> None:
    before = await counts(client)
    huge = json.dumps({"cause": "x", "facts": "事" * 600_000}, ensure_ascii=False).encode()
    assert len(huge) > client.app[SETTINGS].max_body_bytes
    resp = await client.post(
        "/api/v1/cases",
        data=io.BytesIO(huge),
        headers={**clerk, "Content-Type": "application/json"},
    )
    await expect(resp, 413, "payload_too_large")
    assert await counts(client) == before


async def test_bad_path_and_body_ids(client: TestClient, clerk: dict[str, str]) -> None:
    admin = await make_user(client, "admin1", "admin")
    clerk_user = await make_user(client, "clerk9", "clerk")
    mine = await new_case(client, admin)
    other = await new_case(client, admin, office="shaping")
    async with session(client) as db:
        other_party = (await db.scalars(select(Party.id).where(Party.case_id == other))).first()
    before = await counts(client)
    await expect(await client.get("/api/v1/cases/999999", headers=clerk), 404, "case_not_found")
    await expect(await client.get("/api/v1/cases/99999999999999999999", headers=clerk), 404)
    await expect(await client.get("/api/v1/cases/abc", headers=clerk), 404)
    # A party of another case, in the body and in the path.
    resp = await client.post(
        f"/api/v1/cases/{mine}/consents",
        json={"party_id": other_party, "consents": True},
        headers=clerk,
    )
    await expect(resp, 404, "party_not_found")
    resp = await client.patch(
        f"/api/v1/cases/{mine}/parties/{other_party}", json={"name": "x"}, headers=clerk
    )
    await expect(resp, 404, "party_not_found")
    resp = await client.post(
        f"/api/v1/cases/{mine}/consents",
        json={"party_id": 10**12, "consents": True},
        headers=clerk,
    )
    await expect(resp, 422, "invalid")
    # Assigning someone of the wrong role, or nobody.
    for body in ({"mediator_id": clerk_user.id}, {"judge_id": 424242}, {"clerk_id": "me"}):
        resp = await client.post(f"/api/v1/cases/{mine}/assignment", json=body, headers=clerk)
        await expect(resp, 422)
    resp = await client.post(
        f"/api/v1/cases/{mine}/transitions", json={"to": "heaven"}, headers=clerk
    )
    await expect(resp, 422, "invalid")
    resp = await client.post(
        f"/api/v1/cases/{mine}/transitions", json={"to": "closed"}, headers=clerk
    )
    await expect(resp, 409, "illegal_transition")
    resp = await client.patch(f"/api/v1/cases/{mine}", json={"cause": None}, headers=clerk)
    await expect(resp, 422)
    resp = await client.patch(
        f"/api/v1/cases/{mine}/parties/{(await _party(client, mine))}",
        json={"id_number": "12345"},
        headers=clerk,
    )
    await expect(resp, 422)
    # Office staff naming another office's case or office.
    await make_user(client, "staff1", "office_staff", "qiaotou")
    hs = await bearer(client, "staff1")
    await expect(await client.get(f"/api/v1/cases/{other}", headers=hs), 404, "case_not_found")
    resp = await client.post(
        f"/api/v1/cases/{other}/transitions", json={"to": "withdrawn"}, headers=hs
    )
    await expect(resp, 404)
    resp = await client.post("/api/v1/cases", json={**GOOD, "office": "shaping"}, headers=hs)
    await expect(resp, 403)
    assert await counts(client) == before


async def _party(client: TestClient, cid: int) -> int:
    async with session(client) as db:
        pid = (await db.scalars(select(Party.id).where(Party.case_id == cid))).first()
        assert pid is not None
        return pid


async def test_bad_bearer_token(client: TestClient) -> None:
    before = await counts(client)
    for header in ("Bearer nonsense", "Bearer a b", "Bearer clk_" + "x" * 43):
        resp = await client.get("/api/v1/cases", headers={"Authorization": header})
        await expect(resp, 401, "bad_token")
        resp = await client.post("/api/v1/cases", json=GOOD, headers={"Authorization": header})
        await expect(resp, 401, "bad_token")
    await expect(await client.get("/api/v1/cases"), 401, "unauthorized")
    assert await counts(client) == before


async def test_expired_browser_session(client: TestClient) -> None:
    await make_user(client, "clerk1", "clerk")
    await login(client, "clerk1")
    resp = await client.post("/api/v1/cases", json=GOOD, headers={"X-CSRF-Token": csrf(client)})
    assert resp.status == 201  # the browser session works for the API, with its CSRF token
    # Without the CSRF token the same browser is refused.
    await expect(await client.post("/api/v1/cases", json=GOOD), 403, "csrf_failed")
    # A browser session lasts 12 hours: a minute past that on the court's clock it has expired.
    later = utcnow() + timedelta(hours=12, minutes=1)
    client.app[COURT].clock = lambda: later
    before = await counts(client)
    await expect(await client.get("/api/v1/cases"), 401, "session_expired")
    resp = await client.post("/api/v1/cases", json=GOOD, headers={"X-CSRF-Token": csrf(client)})
    await expect(resp, 401, "session_expired")
    assert await counts(client) == before


async def test_consent_then_illegal_move_leaves_no_trace(client: TestClient) -> None:
    """A refused move writes nothing: no number, no docket entry, no audit row."""
    await make_user(client, "clerk1", "clerk")
    h = await bearer(client, "clerk1")
    resp = await client.post(
        "/api/v1/cases",
        json={**GOOD, "parties": [{"side": "applicant", "name": "甲", "id_number": PERSON_ID}]},
        headers=h,
    )
    cid = (await expect_ok(resp))["id"]
    before = await counts(client)
    # One side only: consent can never be complete.
    resp = await client.post(
        f"/api/v1/cases/{cid}/transitions", json={"to": "pre_litigation_mediation"}, headers=h
    )
    await expect(resp, 409, "consent_required")
    assert await counts(client) == before


async def expect_ok(resp: ClientResponse) -> dict[str, Any]:
    assert resp.status < 300, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


@pytest.mark.parametrize(
    "query",
    [
        {"assignee": "99999999999999999999"},
        {"assignee": "someone"},
        {"page": "0"},
        {"per_page": "1000"},
        {"overdue": "maybe"},
        {"stage": "limbo"},
        {"q": "x" * 101},
    ],
)
async def test_bad_search_queries(client: TestClient, clerk: dict[str, str], query: dict) -> None:
    await expect(await client.get("/api/v1/cases", params=query, headers=clerk), 422, "invalid")
