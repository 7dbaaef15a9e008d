"""Who may list, add and download a case's documents: every role, the case's office and
another office, a party's invitation link (their own case, another case, the staff routes),
and nobody logged in. What cannot be seen is not found (404), so another office learns
nothing of the case; anonymous callers are asked to log in (401)."""

from __future__ import annotations

import io

import aiohttp
import pytest

from server.models.docket import Case
from server.sessions import create_invite, create_session
from tests.helpers import api_token, csrf, login, make_user, unit
from tests.test_documents import PDF
from tests.test_invites import make_case

ROLES = {
    # username: (role, office) — the case is the "shaping" office's
    "adm": ("admin", "center"),
    "clk": ("clerk", "center"),
    "jdg": ("judge", "center"),
    "med": ("mediator", "center"),
    "med2": ("mediator", "center"),  # not assigned: the center covers for each other
    "stf": ("office_staff", "shaping"),
    "stf2": ("office_staff", "caiwa"),  # another office
}
# What each may do with the shaping office's case: (list, add, download).
EXPECTED = {
    "adm": (200, 201, 200),
    "clk": (200, 201, 200),
    "jdg": (200, 201, 200),
    "med": (200, 201, 200),
    "med2": (200, 201, 200),
    "stf": (200, 201, 200),
    "stf2": (404, 404, 404),
}


def _post(client, path: str, headers: dict[str, str]):
    return client.post(f"{path}?filename=a.pdf", data=io.BytesIO(PDF), headers=headers)


async def _world(client):
    users = {
        u: await make_user(client, u, role, office=office) for u, (role, office) in ROLES.items()
    }
    case_id = await make_case(client, office="shaping", mediator_id=users["med"].id)
    other_id = await make_case(client, office="shaping", mediator_id=users["med"].id)
    async with unit(client.app, users["med"]) as ctx:
        links = {}
        for cid in (case_id, other_id):
            case = await ctx.db.get(Case, cid)
            assert case is not None
            session = await create_session(ctx, case, kind="mediation")
            _inv, url = await create_invite(ctx, session, case.parties[0])
            links[cid] = url.rsplit("/", 1)[1]
    return case_id, other_id, links


@pytest.mark.parametrize("username", sorted(EXPECTED))
async def test_every_role(client, username: str) -> None:
    case_id, _other, _links = await _world(client)
    seeded = await _post(
        client, f"/api/v1/cases/{case_id}/documents",
        {"Authorization": f"Bearer {await api_token(client, 'adm')}"},
    )  # fmt: skip
    doc_id = (await seeded.json())["id"]
    auth = {"Authorization": f"Bearer {await api_token(client, username)}"}
    base = f"/api/v1/cases/{case_id}/documents"
    got = (
        (await client.get(base, headers=auth)).status,
        (await _post(client, base, auth)).status,
        (await client.get(f"{base}/{doc_id}", headers=auth)).status,
    )
    assert got == EXPECTED[username]
    # The case page's form, logged in with the page's cookie: as the API allows, or 404.
    await login(client, username)
    await client.get(f"/cases/{case_id}")
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("csrf_token", csrf(client))
    form.add_field("file", io.BytesIO(PDF), filename="a.pdf", content_type="application/pdf")
    resp = await client.post(f"/cases/{case_id}/documents", data=form, allow_redirects=False)
    assert resp.status == (303 if EXPECTED[username][1] == 201 else 404)


async def test_anonymous_and_a_partys_link(client) -> None:
    case_id, other_id, links = await _world(client)
    admin = {"Authorization": f"Bearer {await api_token(client, 'adm')}"}
    base = f"/api/v1/cases/{case_id}/documents"
    doc_id = (await (await _post(client, base, admin)).json())["id"]
    # Nobody logged in: asked to log in, nothing listed, added or sent.
    assert (await client.get(base)).status == 401
    assert (await _post(client, base, {})).status in (401, 403)  # 403: no CSRF token either
    assert (await client.get(f"{base}/{doc_id}")).status == 401
    # ... nor through the case page's form.
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(PDF), filename="a.pdf", content_type="application/pdf")
    resp = await client.post(f"/cases/{case_id}/documents", data=form, allow_redirects=False)
    assert resp.status in (401, 403) or resp.headers.get("Location", "").startswith("/login")
    # A party's link is no key to the staff routes: it is not a login.
    bearer_link = {"Authorization": f"Bearer {links[case_id]}"}
    assert (await client.get(base, headers=bearer_link)).status == 401
    # Through their own link a party adds to their own case and lists only their own.
    mine = f"/api/v1/invites/{links[case_id]}/documents"
    assert (await _post(client, mine, {})).status == 201
    listed = await (await client.get(mine)).json()
    assert len(listed) == 1 and listed[0]["source"] == "party"
    # The other case's link adds to the other case, never to this one.
    theirs = f"/api/v1/invites/{links[other_id]}/documents"
    assert (await _post(client, theirs, {})).status == 201
    staff_view = await (await client.get(base, headers=admin)).json()
    assert len(staff_view) == 2  # the admin's and this case's party's
    other_view = await (
        await client.get(f"/api/v1/cases/{other_id}/documents", headers=admin)
    ).json()
    assert len(other_view) == 1
    # A document is reached only through its own case.
    assert (
        await client.get(f"/api/v1/cases/{other_id}/documents/{doc_id}", headers=admin)
    ).status == 404
