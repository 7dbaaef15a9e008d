"""The pre-join's network probe (server/api/probe.py): who may use it (every role, the case's
office and another office, a party's link, a guest's link, nobody logged in, an ended
session), and what it answers to bad input (sizes out of bounds, a body over the cap)."""

from __future__ import annotations

import io

import aiohttp
import pytest

from server.api.probe import MAX_PROBE_BYTES
from tests.agreement_helpers import bearer, build_world
from tests.test_guests import invite_guest

# Each account on the session of the "shaping" office's case: (download, upload).
EXPECTED = {
    "med": (200, 200),  # the host
    "med2": (200, 200),  # of the court: may join any session
    "judge": (200, 200),
    "clerk": (200, 200),
    "admin": (200, 200),
    "staff_own": (200, 200),  # the case's office, which brings its residents
    "staff_other": (404, 404),  # another office: no such session
}


@pytest.mark.parametrize("username", sorted(EXPECTED))
async def test_every_role(client, username: str) -> None:
    w = await build_world(client)
    auth = {"Authorization": f"Bearer {await bearer(client, username)}"}
    url = f"/api/v1/sessions/{w.session_id}/probe"
    down = await client.get(url + "?bytes=5000", headers=auth)
    up = await client.post(url, data=b"x" * 7000, headers=auth)
    assert (down.status, up.status) == EXPECTED[username]
    if down.status == 200:
        body = await down.read()
        assert len(body) == 5000
        assert down.headers["Cache-Control"] == "no-store"
        assert down.headers["Content-Type"] == "application/octet-stream"
        assert (await up.json())["received"] == 7000
    else:
        assert (await down.json())["error"]["code"] == "session_not_found"


async def test_links_and_nobody_logged_in(client) -> None:
    w = await build_world(client)
    med = {"Authorization": f"Bearer {await bearer(client, 'med')}"}
    guest = (await invite_guest(client, w.session_id, med))["invite"]["token"]
    party = w.tokens[w.applicant_id]
    async with aiohttp.ClientSession() as anon:
        # A party's link and a guest's link both probe, as both join the session.
        for token in (party, guest):
            url = client.make_url(f"/api/v1/invites/{token}/probe")
            down = await anon.get(url, params={"bytes": "1024"})
            assert down.status == 200
            assert len(await down.read()) == 1024
            up = await anon.post(url, data=b"y" * 2048)
            assert up.status == 200
            assert (await up.json())["received"] == 2048
        # A made-up link is not one.
        fake = await anon.get(client.make_url("/api/v1/invites/not-a-token/probe"))
        assert fake.status in (401, 403)
        # Nobody logged in, and a link used as a login, reach no staff route.
        staff = client.make_url(f"/api/v1/sessions/{w.session_id}/probe")
        assert (await anon.get(staff)).status == 401
        assert (await anon.post(staff, data=b"z")).status in (401, 403)
        as_login = {"Authorization": f"Bearer {party}"}
        assert (await anon.get(staff, headers=as_login)).status == 401


async def test_an_ended_session_probes_no_more(client) -> None:
    w = await build_world(client)
    med = {"Authorization": f"Bearer {await bearer(client, 'med')}"}
    ended = await client.post(f"/api/v1/sessions/{w.session_id}/end", headers=med)
    assert ended.status == 200, await ended.text()
    down = await client.get(f"/api/v1/sessions/{w.session_id}/probe", headers=med)
    assert down.status == 403
    assert (await down.json())["error"]["code"] == "session_ended"
    async with aiohttp.ClientSession() as anon:
        url = client.make_url(f"/api/v1/invites/{w.tokens[w.applicant_id]}/probe")
        link = await anon.get(url)
        assert link.status == 403
        assert (await link.json())["error"]["code"] == "session_ended"


async def test_bad_sizes(client) -> None:
    w = await build_world(client)
    med = {"Authorization": f"Bearer {await bearer(client, 'med')}"}
    url = f"/api/v1/sessions/{w.session_id}/probe"
    for bad in ("0", "-5", str(MAX_PROBE_BYTES + 1), "lots", "1e3"):
        resp = await client.get(url, params={"bytes": bad}, headers=med)
        assert resp.status == 422, bad
    # The default, and the largest allowed.
    assert len(await (await client.get(url, headers=med)).read()) == 256 * 1024
    top = await client.get(url, params={"bytes": str(MAX_PROBE_BYTES)}, headers=med)
    assert len(await top.read()) == MAX_PROBE_BYTES
    over = await client.post(url, data=io.BytesIO(b"\0" * (MAX_PROBE_BYTES + 1)), headers=med)
    assert over.status == 413
    async with aiohttp.ClientSession() as anon:
        link = client.make_url(f"/api/v1/invites/{w.tokens[w.applicant_id]}/probe")
        assert (await anon.post(link, data=io.BytesIO(b"\0" * (MAX_PROBE_BYTES + 1)))).status == 413
        assert (await anon.get(link, params={"bytes": "0"})).status == 422
