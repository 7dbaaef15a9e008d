"""Who may invite a session's guests of joint mediation (联调) and see their links: every role,
the case's office and another office, a party's link, a guest's link, and nobody logged in.
And what a guest's link opens: the session, nothing else. Every route a party's link opens
beyond the session (the case file, the agreement, signing) refuses it."""

from __future__ import annotations

import base64
import io

import aiohttp
import pytest

from tests.agreement_helpers import TERMS, World, bearer, build_world, signature_png
from tests.helpers import csrf, login
from tests.test_documents import PDF
from tests.test_guests import POLICE, invite_guest

# What each account may do with the session of the "shaping" office's case:
# (invite by the API, list by the API, links shown in the list, invite by the page's form).
EXPECTED = {
    "med": (201, 200, True, 303),  # the host, assigned
    "med2": (403, 200, False, 403),  # sees the case, holds no links
    "judge": (201, 200, True, 303),  # assigned
    "clerk": (201, 200, True, 303),
    "admin": (201, 200, True, 303),
    "staff_own": (201, 200, True, 303),  # books the case's office's sessions
    "staff_other": (404, 404, False, 404),  # another office: no such session
}


@pytest.mark.parametrize("username", sorted(EXPECTED))
async def test_every_role(client, username: str) -> None:
    w = await build_world(client)
    seeded = await invite_guest(
        client, w.session_id, {"Authorization": f"Bearer {await bearer(client, 'med')}"}
    )
    auth = {"Authorization": f"Bearer {await bearer(client, username)}"}
    base = f"/api/v1/sessions/{w.session_id}/guests"
    created = await client.post(base, json=POLICE, headers=auth)
    listed = await client.get(base, headers=auth)
    links = None
    if listed.status == 200:
        rows = await listed.json()
        assert rows[0]["id"] == seeded["id"]
        links = rows[0]["invite"]["url"] is not None
    await login(client, username)
    page = await client.post(
        f"/sessions/{w.session_id}/guests",
        data={"csrf_token": csrf(client), **POLICE},
        allow_redirects=False,
    )
    expected = EXPECTED[username]
    assert (created.status, listed.status, page.status) == (expected[0], expected[1], expected[3])
    if listed.status == 200:
        assert links is expected[2]


async def _tokens(client) -> tuple[World, str, int]:
    """The world, a guest's token, and a document the guest must not reach."""
    w = await build_world(client)
    med = {"Authorization": f"Bearer {await bearer(client, 'med')}"}
    guest = await invite_guest(client, w.session_id, med)
    doc = await client.post(
        f"/api/v1/cases/{w.case_id}/documents?filename=a.pdf", data=io.BytesIO(PDF), headers=med
    )
    assert doc.status == 201
    made = await client.post(
        f"/api/v1/cases/{w.case_id}/agreement", json={"terms": TERMS}, headers=med
    )
    assert made.status == 201
    return w, guest["invite"]["token"], (await doc.json())["id"]


async def test_nobody_logged_in_and_the_links_as_credentials(client) -> None:
    w, guest_token, _doc = await _tokens(client)
    base = f"/api/v1/sessions/{w.session_id}/guests"
    async with aiohttp.ClientSession() as anon:
        url = client.make_url(base)
        assert (await anon.get(url)).status == 401
        assert (await anon.post(url, json=POLICE)).status in (401, 403)  # 403: no CSRF pair
        page = await anon.post(
            client.make_url(f"/sessions/{w.session_id}/guests"), data=POLICE, allow_redirects=False
        )
        assert page.status in (401, 403) or page.headers["Location"].startswith("/login")
        # Neither a party's link nor a guest's is a login.
        for token in (w.tokens[w.applicant_id], guest_token):
            bearer_link = {"Authorization": f"Bearer {token}"}
            assert (await anon.get(url, headers=bearer_link)).status == 401
            assert (await anon.post(url, json=POLICE, headers=bearer_link)).status == 401
            case = await anon.get(
                client.make_url(f"/api/v1/cases/{w.case_id}"), headers=bearer_link
            )
            assert case.status == 401


async def test_a_guests_link_opens_the_session_and_nothing_a_partys_link_opens(client) -> None:
    w, guest_token, doc_id = await _tokens(client)
    party_token = w.tokens[w.applicant_id]
    routes = [
        ("GET", "/api/v1/invites/{t}/documents", {}),
        ("POST", "/api/v1/invites/{t}/documents?filename=a.pdf", {"data": PDF}),
        ("GET", f"/api/v1/invites/{{t}}/documents/{doc_id}", {}),
        ("GET", "/api/v1/invites/{t}/agreement", {}),
        ("GET", "/api/v1/invites/{t}/agreement/document", {}),
    ]
    async with aiohttp.ClientSession() as anon:
        for method, path, kw in routes:
            resp = await anon.request(method, client.make_url(path.format(t=guest_token)), **kw)
            assert resp.status == 403, (path, await resp.text())
            assert (await resp.json())["error"]["code"] == "not_a_party_link"
            # The party's own link is what these routes are for (a document they neither
            # brought nor were shown is not found to them).
            mine = await anon.request(method, client.make_url(path.format(t=party_token)), **kw)
            assert mine.status in (200, 201, 404), path
        # Signing through the link, as the guest or in a party's name: refused, nothing kept.
        agreement = await (
            await anon.get(client.make_url(f"/api/v1/invites/{party_token}/agreement"))
        ).json()
        version = agreement["current_version"]
        sign = {
            "party_id": w.applicant_id,
            "typed_name": "张三",
            "image_png": base64.b64encode(signature_png()).decode(),
            "version_id": version["id"],
            "content_hash": version["content_hash"],
        }
        resp = await anon.post(
            client.make_url(f"/api/v1/invites/{guest_token}/agreement/signatures"), json=sign
        )
        assert resp.status == 403
        after = await (
            await anon.get(client.make_url(f"/api/v1/invites/{party_token}/agreement"))
        ).json()
        assert after["signatures"] == []
        # The signing page says the link does not do that; the session's page opens.
        page = await anon.get(client.make_url(f"/sign/{guest_token}"))
        assert page.status == 403
        assert (await anon.get(client.make_url(f"/join/{guest_token}"))).status == 200
        # Nor does the guest's link reach another session of the case.
        await login(client, "med")
        other = await client.post(
            f"/api/v1/cases/{w.case_id}/sessions",
            json={"kind": "mediation"},
            headers={"X-CSRF-Token": csrf(client)},
        )
        other_id = (await other.json())["id"]
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await anon.ws_connect(client.make_url(f"/ws/sessions/{other_id}?invite={guest_token}"))
        assert err.value.status == 403
