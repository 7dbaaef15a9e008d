"""Who holds a party's credentials (issue 12, finding 1): the access matrix over every role,
a party's own link and the other party's, and anonymous callers, for opening a session, the
invite links and a party's signature. Every expected status is written here by hand. Finding
2 (the agreement's original text, its preview, the sealed PDF) is
``tests/test_party_credentials_originals.py``'s; the access rules settled with them
(rewriting the terms, judicial confirmation) are ``tests/test_party_credentials_terms.py``'s.
Both use the world, the accounts and the callers set up here.

The world is reached through the product's own operations: the case is registered, moved and
assigned by an admin (``tests.docket_helpers.new_case``), the session and the parties' links
are opened by the assigned mediator (``server.sessions``), the agreement is drafted, signed
and sealed through the API.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest

from server.models.docket import Case, Stage
from server.sessions import create_invite, create_session
from server.web.keys import SETTINGS
from tests.agreement_helpers import World, bearer, share_fonts, signature_png, terms_for
from tests.docket_helpers import OTHER_ID, PERSON_ID, new_case
from tests.helpers import csrf, login, make_user, unit

# Every account of the matrix: (key, username, role, office).
ACCOUNTS = [
    ("admin", "admin", "admin", "center"),
    ("clerk", "clerk", "clerk", "center"),  # the case's assigned clerk
    ("clerk2", "clerk2", "clerk", "center"),  # a clerk not assigned to the case
    ("judge", "judge", "judge", "center"),  # the case's assigned judge
    ("judge2", "judge2", "judge", "center"),
    ("med", "med", "mediator", "center"),  # the case's assigned mediator, the session's host
    ("med2", "med2", "mediator", "center"),
    ("staff_own", "staff_own", "office_staff", "shaping"),  # the office that booked it
    ("staff_other", "staff_other", "office_staff", "caiwa"),
]
ROLES = [a[0] for a in ACCOUNTS]
# The masked form of each ID number, as GET /api/v1/cases/{id} shows it: first 3, last 4.
MASKED = {PERSON_ID: "140***********" + PERSON_ID[-4:], OTHER_ID: "110***********" + OTHER_ID[-4:]}


async def build(client: Any, stage: Stage = Stage.PRE_LITIGATION_MEDIATION) -> World:
    """Every account of the matrix, and a case in ``stage`` with a mediation session."""
    users = {
        key: await make_user(client, name, role, office=office, display_name=name)
        for key, name, role, office in ACCOUNTS
    }
    share_fonts(client.app[SETTINGS].data_dir / "fonts")
    return await open_case(client, users, stage, "mediation")


async def open_case(client: Any, users: dict[str, Any], stage: Stage, kind: str) -> World:
    """A case of the office that booked it in ``stage``, registered by the admin and assigned
    to the matrix's mediator, judge and clerk; the mediator opens a session of ``kind`` and a
    link for each party."""
    case_id = await new_case(
        client, users["admin"], office="shaping", stage=stage,
        mediator_id=users["med"].id, judge_id=users["judge"].id, clerk_id=users["clerk"].id,
    )  # fmt: skip
    async with unit(client.app, users["med"]) as ctx:
        case = await ctx.db.get(Case, case_id)
        assert case is not None
        session = await create_session(ctx, case, kind=kind)
        tokens = {}
        for party in case.parties:
            _invite, url = await create_invite(ctx, session, party)
            tokens[party.id] = url.rsplit("/", 1)[1]
        applicant, respondent = case.parties[0].id, case.parties[1].id
    return World(case_id, applicant, respondent, session.id, tokens, users)


async def headers_of(client: Any, who: str | None) -> dict[str, str]:
    """A pure bearer-token caller (no browser cookies); or nobody, as a browser with no login
    (its CSRF pair sent, so the answer is about the login, not the CSRF check)."""
    if who is None:
        client.session.cookie_jar.clear()
        await client.get("/login")
        return {"X-CSRF-Token": csrf(client)}
    token = await bearer(client, who)
    client.session.cookie_jar.clear()
    return {"Authorization": f"Bearer {token}"}


def _png(seed: int = 1) -> str:
    return "data:image/png;base64," + base64.b64encode(signature_png(seed)).decode()


async def _draft(client: Any, w: World) -> dict[str, Any]:
    auth = await headers_of(client, "med")
    resp = await client.post(f"/api/v1/cases/{w.case_id}/agreement",
                             json={"terms": terms_for(w)}, headers=auth)  # fmt: skip
    assert resp.status == 201, await resp.text()
    agreement: dict[str, Any] = await resp.json()
    return agreement


def _sign_body(agreement: dict[str, Any], name: str, **over: Any) -> io.BytesIO:
    v = agreement["current_version"]
    body = {"version_id": v["id"], "content_hash": v["content_hash"], "typed_name": name,
            "image_png": _png(), **over}  # fmt: skip
    return io.BytesIO(json.dumps(body).encode())


JSON = {"Content-Type": "application/json"}


# --- opening a session, the invite links (finding 1) ----------------------------------------

# (who, open a session for the case, list the links: status and whether URLs are shown,
#  create a link, revoke a link)
INVITES = [
    ("admin", 201, 200, True, 201, 200),
    ("clerk", 201, 200, True, 201, 200),
    ("clerk2", 201, 200, True, 201, 200),
    ("judge", 201, 200, True, 201, 200),
    ("judge2", 403, 200, False, 403, 403),
    ("med", 201, 200, True, 201, 200),
    ("med2", 403, 200, False, 403, 403),
    ("staff_own", 201, 200, True, 201, 200),
    ("staff_other", 404, 404, False, 404, 404),
    (None, 401, 401, False, 401, 401),
]


@pytest.mark.parametrize(("who", "open_", "list_", "urls", "create", "revoke"), INVITES)
async def test_invite_matrix(client, who, open_, list_, urls, create, revoke):
    w = await build(client)
    # A spare link for the revoke below, made by the host.
    async with unit(client.app, w.users["med"]) as ctx:
        case = await ctx.db.get(Case, w.case_id)
        assert case is not None
        from server.sessions import load_session_for

        session = await load_session_for(ctx, w.session_id)
        spare, _url = await create_invite(ctx, session, case.parties[0])
    auth = await headers_of(client, who)
    resp = await client.post(f"/api/v1/cases/{w.case_id}/sessions", json={}, headers=auth)
    assert resp.status == open_, (who, await resp.text())
    resp = await client.get(f"/api/v1/sessions/{w.session_id}/invites", headers=auth)
    assert resp.status == list_, (who, await resp.text())
    if list_ == 200:
        rows = await resp.json()
        assert len(rows) == 3
        # Everyone who may see the session sees who is invited; only some see the links.
        assert sorted(r["party_id"] for r in rows) == sorted(
            [w.applicant_id, w.respondent_id, w.applicant_id]
        )
        shown = [r["url"] for r in rows]
        assert all(shown) if urls else shown == [None, None, None], (who, shown)
        # The bare token (what the signing API takes) beside each URL, under the same rule.
        tokens = [r["token"] for r in rows]
        assert all(tokens) if urls else tokens == [None, None, None], (who, tokens)
        assert all(r["url"].endswith("/join/" + r["token"]) for r in rows if r["url"])
    resp = await client.post(f"/api/v1/sessions/{w.session_id}/invites",
                             json={"party_id": w.respondent_id}, headers=auth)  # fmt: skip
    assert resp.status == create, (who, await resp.text())
    if create == 201:
        made = await resp.json()
        assert made["url"] == "http://127.0.0.1:8080/join/" + made["token"]
        # The token is the one the party's own routes take (here: their agreement, none yet).
        resp = await client.get(f"/api/v1/invites/{made['token']}/agreement")
        assert resp.status == 404, (who, await resp.text())
    resp = await client.delete(f"/api/v1/sessions/{w.session_id}/invites/{spare.id}",
                               headers=auth)  # fmt: skip
    assert resp.status == revoke, (who, await resp.text())
    # The party's own link is no account: it opens none of the staff routes.
    party = {"Authorization": f"Bearer {w.tokens[w.applicant_id]}"}
    resp = await client.get(f"/api/v1/sessions/{w.session_id}/invites", headers=party)
    assert resp.status == 401


async def test_the_session_page_shows_links_only_to_who_may_hand_them_out(client):
    w = await build(client)
    for who, shows in (("med2", False), ("judge2", False), ("staff_own", True), ("judge", True)):
        client.session.cookie_jar.clear()
        await login(client, who)
        resp = await client.get(f"/sessions/{w.session_id}")
        html = await resp.text()
        assert resp.status == 200, (who, html)
        assert ("/join/" in html) is shows, who
        # Who is invited is shown to everyone who may see the session.
        assert "张三" in html and "李四" in html, who
        assert ('action="/sessions/' + str(w.session_id) + '/invites"' in html) is shows, who
        # The case's sessions page offers to open one only to who may (the same people here).
        html = await (await client.get(f"/cases/{w.case_id}/sessions")).text()
        assert (f'action="/cases/{w.case_id}/sessions"' in html) is shows, who


# --- a party's signature (finding 1) ---------------------------------------------------------


async def test_the_finding_an_unassigned_mediator_cannot_get_a_link_to_sign_with(client):
    """The probe's path: open a session, make a link for a party, sign as the party."""
    w = await build(client)
    await _draft(client, w)
    auth = await headers_of(client, "med2")
    resp = await client.post(f"/api/v1/cases/{w.case_id}/sessions", json={}, headers=auth)
    assert resp.status == 403, await resp.text()
    resp = await client.post(f"/api/v1/sessions/{w.session_id}/invites",
                             json={"party_id": w.applicant_id}, headers=auth)  # fmt: skip
    assert resp.status == 403, await resp.text()
    resp = await client.get(f"/api/v1/sessions/{w.session_id}/invites", headers=auth)
    rows = await resp.json()
    assert [(r["url"], r["token"]) for r in rows] == [(None, None), (None, None)]


# (who signs through the applicant's own link with their court login on the request)
SIGN_WITH_LOGIN = [(r, 403) for r in ROLES]


@pytest.mark.parametrize(("who", "status"), SIGN_WITH_LOGIN)
async def test_no_court_account_signs_for_a_party(client, who, status):
    w = await build(client)
    agreement = await _draft(client, w)
    auth = await headers_of(client, who)
    resp = await client.post(
        f"/api/v1/invites/{w.tokens[w.applicant_id]}/agreement/signatures",
        data=_sign_body(agreement, "张三"), headers={**JSON, **auth},
    )  # fmt: skip
    assert resp.status == status, (who, await resp.text())
    assert (await resp.json())["error"]["code"] == "court_account"
    # Nothing was recorded: the applicant still has to sign.
    resp = await client.get(f"/api/v1/invites/{w.tokens[w.applicant_id]}/agreement")
    assert w.applicant_id in (await resp.json())["unsigned_party_ids"]


async def test_a_party_signs_only_through_their_own_link(client):
    w = await build(client)
    agreement = await _draft(client, w)
    client.session.cookie_jar.clear()
    own, other = w.tokens[w.applicant_id], w.tokens[w.respondent_id]
    # The other party's link, for the applicant: refused whichever way it is put.
    resp = await client.post(f"/api/v1/invites/{other}/agreement/signatures",
                             data=_sign_body(agreement, "张三", party_id=w.applicant_id),
                             headers=JSON)  # fmt: skip
    assert resp.status == 403, await resp.text()
    resp = await client.post(f"/api/v1/invites/{other}/agreement/signatures",
                             data=_sign_body(agreement, "张三"), headers=JSON)  # fmt: skip
    assert resp.status == 422, await resp.text()
    # Anonymous with no link, and a forged link: nothing.
    resp = await client.post("/api/v1/invites/1.x.y/agreement/signatures",
                             data=_sign_body(agreement, "张三"), headers=JSON)  # fmt: skip
    assert resp.status == 401
    # The applicant's own link, no account on the request: signed.
    resp = await client.post(f"/api/v1/invites/{own}/agreement/signatures",
                             data=_sign_body(agreement, "张三"), headers=JSON)  # fmt: skip
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["unsigned_party_ids"] == [w.respondent_id]
