"""CSRF: every form POST without the token, or with a wrong one, is refused (403) and changes
nothing; a bearer-token API call carries no ambient credential and needs no token."""

from __future__ import annotations

import pytest

from server.models.docket import Case, Consent, Party
from server.web.auth import CSRF_COOKIE
from tests.docket_helpers import bearer, count, load, new_case
from tests.helpers import PASSWORD, csrf, login, make_user


def _wrong(client) -> str:
    return csrf(client)[::-1] + "x"


@pytest.mark.parametrize("token", ["missing", "wrong"])
async def test_login_without_a_good_token_is_refused(client, token):
    await make_user(client, "clerk1", "clerk")
    await client.get("/login")
    data = {"username": "clerk1", "password": PASSWORD}
    if token == "wrong":
        data["csrf_token"] = _wrong(client)
    resp = await client.post("/login", data=data, allow_redirects=False)
    assert resp.status == 403
    assert "CSRF" in await resp.text()
    # Not logged in: the docket still sends us to the login page.
    resp = await client.get("/cases", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/login")


async def test_a_token_without_its_cookie_is_refused(client):
    await client.get("/login")
    token = csrf(client)
    client.session.cookie_jar.clear()  # a foreign page knows no victim's cookie
    resp = await client.post("/intake", data={"csrf_token": token, "cause": "x"})
    assert resp.status == 403


@pytest.mark.parametrize("token", ["missing", "wrong"])
async def test_intake_form_refused(client, token):
    await client.get("/intake")
    data = {"applicant_name": "王", "cause": "纠纷", "office": "pingtan"}
    if token == "wrong":
        data["csrf_token"] = _wrong(client)
    assert (await client.post("/intake", data=data)).status == 403
    assert await count(client, Case) == 0


async def test_case_forms_refused_without_token(client):
    clerk = await make_user(client, "clerk1", "clerk")
    case_id = await new_case(client, clerk, consent=None)
    party_id = (await load(client, case_id)).parties[0].id
    await login(client, "clerk1")
    forms = {
        "/cases/new": {"cause": "x", "party-0-name": "a", "party-1-name": "b"},
        f"/cases/{case_id}/move": {"to": "filed"},
        f"/cases/{case_id}/consent": {"party_id": str(party_id), "consents": "yes"},
        f"/cases/{case_id}/assign": {"clerk_id": str(clerk.id)},
        f"/cases/{case_id}/parties": {"side": "respondent", "name": "王五"},
        f"/cases/{case_id}/parties/{party_id}": {"name": "改名"},
        f"/cases/{case_id}/edit": {"cause": "改", "claim_yuan": "1"},
        "/logout": {},
    }
    for path, data in forms.items():
        for bad in ({}, {"csrf_token": _wrong(client)}):
            resp = await client.post(path, data={**data, **bad}, allow_redirects=False)
            assert resp.status == 403, (path, bad, resp.status)
    case = await load(client, case_id)
    assert case.stage == "intake" and case.clerk_id is None and case.cause == "民间借贷纠纷"
    assert await count(client, Case) == 1 and await count(client, Party) == 2
    assert await count(client, Consent) == 0
    # Still logged in (logout was refused too), and the same form with the token works.
    resp = await client.post(
        f"/cases/{case_id}/move",
        data={"to": "filed", "csrf_token": csrf(client)},
        allow_redirects=False,
    )
    assert resp.status == 303
    assert (await load(client, case_id)).stage == "filed"


async def test_cookie_session_api_call_needs_the_header(client):
    await make_user(client, "clerk1", "clerk")
    await login(client, "clerk1")
    body = {"cause": "借款", "parties": []}
    assert (await client.post("/api/v1/cases", json=body)).status == 403
    resp = await client.post("/api/v1/cases", json=body, headers={"X-CSRF-Token": csrf(client)})
    assert resp.status == 201, await resp.text()


async def test_bearer_token_api_call_needs_no_csrf_token(client):
    await make_user(client, "clerk1", "clerk")
    headers = await bearer(client, "clerk1")
    assert not any(c.key == CSRF_COOKIE for c in client.session.cookie_jar)
    body = {"cause": "借款", "parties": []}
    resp = await client.post("/api/v1/cases", json=body, headers=headers)
    assert resp.status == 201, await resp.text()
    assert await count(client, Case) == 1
