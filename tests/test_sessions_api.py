"""The sessions JSON API: open, list, invite, revoke, end; who may and who may not."""

from __future__ import annotations

from tests.helpers import PASSWORD, csrf, make_user
from tests.test_invites import make_case


async def bearer(client, username: str) -> dict[str, str]:
    # The token endpoint wants a CSRF token from a client carrying cookies; get one, then
    # drop the cookies so what follows are pure bearer-token calls.
    await client.get("/login")
    resp = await client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": PASSWORD},
        headers={"X-CSRF-Token": csrf(client)},
    )
    assert resp.status == 201, await resp.text()
    client.session.cookie_jar.clear()
    return {"Authorization": f"Bearer {(await resp.json())['token']}"}


async def test_open_invite_revoke_end(client):
    med = await make_user(client, "med", "mediator")
    case_id = await make_case(client, mediator_id=med.id)
    h = await bearer(client, "med")
    resp = await client.post(f"/api/v1/cases/{case_id}/sessions", json={}, headers=h)
    assert resp.status == 201, await resp.text()
    s = await resp.json()
    assert s["status"] == "scheduled" and s["host_id"] == med.id and s["kind"] == "mediation"
    assert s["join_path"] == f"/sessions/{s['id']}/join"

    listed = await (await client.get(f"/api/v1/cases/{case_id}/sessions", headers=h)).json()
    assert [x["id"] for x in listed] == [s["id"]]

    case = await (await client.get(f"/api/v1/sessions/{s['id']}", headers=h)).json()
    assert case["case_id"] == case_id

    from server.models.docket import Case
    from server.web.keys import SESSIONMAKER

    async with client.app[SESSIONMAKER]() as db:
        party_ids = [p.id for p in (await db.get(Case, case_id)).parties]
    resp = await client.post(
        f"/api/v1/sessions/{s['id']}/invites", json={"party_id": party_ids[0]}, headers=h
    )
    assert resp.status == 201, await resp.text()
    inv = await resp.json()
    assert inv["party_name"] == "张三" and inv["url"].endswith("/join/" + inv["token"])
    assert inv["revoked_at"] is None

    resp = await client.delete(f"/api/v1/sessions/{s['id']}/invites/{inv['id']}", headers=h)
    assert resp.status == 200
    assert (await resp.json())["revoked_at"] is not None
    # The revoked link now opens an error page, not the pre-join page.
    page = await client.get(f"/join/{inv['token']}")
    assert page.status == 403

    resp = await client.post(f"/api/v1/sessions/{s['id']}/end", headers=h)
    assert resp.status == 200 and (await resp.json())["status"] == "ended"
    resp = await client.post(f"/api/v1/sessions/{s['id']}/end", headers=h)
    assert resp.status == 409
    resp = await client.post(
        f"/api/v1/sessions/{s['id']}/invites", json={"party_id": party_ids[1]}, headers=h
    )
    assert resp.status == 409


async def test_refusals(client):
    med = await make_user(client, "med", "mediator")
    await make_user(client, "clerk", "clerk")
    await make_user(client, "far", "office_staff", office="qiaotou")
    case_id = await make_case(client, mediator_id=med.id)
    other_case = await make_case(client)
    h = await bearer(client, "med")
    s = await (await client.post(f"/api/v1/cases/{case_id}/sessions", json={}, headers=h)).json()

    assert (await client.get(f"/api/v1/sessions/{s['id']}")).status == 401
    far = await bearer(client, "far")
    # Office staff of another office: the case and its session do not exist for them.
    assert (await client.get(f"/api/v1/sessions/{s['id']}", headers=far)).status == 404
    resp = await client.post(f"/api/v1/cases/{case_id}/sessions", json={}, headers=far)
    assert resp.status == 404
    # Only the host ends a session.
    clerk = await bearer(client, "clerk")
    resp = await client.post(f"/api/v1/sessions/{s['id']}/end", headers=clerk)
    assert resp.status == 403 and (await resp.json())["error"]["code"] == "not_host"

    from server.models.docket import Case
    from server.web.keys import SESSIONMAKER

    async with client.app[SESSIONMAKER]() as db:
        foreign_party = (await db.get(Case, other_case)).parties[0].id
    resp = await client.post(
        f"/api/v1/sessions/{s['id']}/invites", json={"party_id": foreign_party}, headers=h
    )
    assert resp.status == 404
    backwards = {"starts_at": "2026-01-02T10:00:00+08:00", "ends_at": "2026-01-02T09:00:00+08:00"}
    for bad in ({"kind": "party"}, {"extra": 1}, backwards):
        resp = await client.post(f"/api/v1/cases/{case_id}/sessions", json=bad, headers=h)
        assert resp.status == 422, bad


async def test_pages_open_from_case_invite_and_join(client):
    from tests.helpers import login, post_form

    med = await make_user(client, "med", "mediator", display_name="王调解员")
    case_id = await make_case(client, mediator_id=med.id)
    await login(client, "med")
    resp = await post_form(client, f"/cases/{case_id}/sessions", {"kind": "hearing"},
                           allow_redirects=False)  # fmt: skip
    assert resp.status == 303, await resp.text()
    session_path = resp.headers["Location"]
    sid = int(session_path.rsplit("/", 1)[1])
    page = await (await client.get(session_path)).text()
    assert "速裁庭审" in page and "当事人邀请链接" in page

    from server.models.docket import Case
    from server.web.keys import SESSIONMAKER

    async with client.app[SESSIONMAKER]() as db:
        party_id = (await db.get(Case, case_id)).parties[1].id
    resp = await post_form(client, f"/sessions/{sid}/invites", {"party_id": party_id},
                           allow_redirects=False)  # fmt: skip
    assert resp.status == 303
    page = await (await client.get(session_path)).text()
    link = page.split('class="invite-url" readonly value="', 1)[1].split('"', 1)[0]
    assert "/join/" in link

    # Staff join page: the app with the recording notice and the socket address.
    page = await (await client.get(f"/sessions/{sid}/join")).text()
    assert "本次会话全程录音录像" in page and f"/ws/sessions/{sid}" in page
    assert 'id="party-name"' not in page
    # Its sentences run on as Chinese writes them, no space between (English has one).
    notice = page.split('id="recording-notice"', 1)[1].split("</div>", 1)[0]
    assert "作为法院记录。</strong>背对背（单独）调解室同样录音录像。<span" in notice, notice
    page = await (await client.get(f"/sessions/{sid}/join?lang=en")).text()
    assert "record.</strong> Private (caucus) rooms are recorded too. <span" in page
    await client.get("/login?lang=zh_CN")

    # The party's link, from a browser with no account: the pre-join page with a name box.
    client.session.cookie_jar.clear()
    resp = await client.get(link.split("8080", 1)[1], allow_redirects=False)
    assert resp.status == 200
    page = await resp.text()
    assert 'id="party-name"' in page and "?invite=" in page
    # Nothing of the case's other pages opens for that browser.
    assert (await client.get(session_path, allow_redirects=False)).status == 302
    bad = await client.get("/join/1.x.y")
    assert bad.status == 404
