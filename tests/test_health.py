"""/healthz and the login page through the real app factory, on both databases."""

from __future__ import annotations

from tests.helpers import login, make_user


async def test_healthz_reports_database(client):
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "database": "ok"}


async def test_login_logout_round_trip(client):
    await make_user(client, "clerk1", "clerk")
    await login(client, "clerk1")
    resp = await client.get("/", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/cases"


async def test_wrong_password_is_refused_and_throttled(client):
    await make_user(client, "clerk2", "clerk")
    await client.get("/login")
    from tests.helpers import csrf

    statuses = []
    for _ in range(6):
        resp = await client.post(
            "/login", data={"username": "clerk2", "password": "nope", "csrf_token": csrf(client)}
        )
        statuses.append(resp.status)
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429


async def test_login_without_csrf_is_refused(client):
    await make_user(client, "clerk3", "clerk")
    resp = await client.post("/login", data={"username": "clerk3", "password": "x"})
    assert resp.status == 403
    assert "CSRF" in await resp.text()
