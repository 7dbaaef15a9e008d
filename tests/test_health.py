"""/healthz and the login page through the real app factory, on both databases."""

from __future__ import annotations

from server.web.auth import SESSION_COOKIE
from tests.helpers import csrf, login, make_user


async def test_healthz_reports_database(client):
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "database": "ok"}


async def test_login_logout_round_trip(client):
    await make_user(client, "clerk1", "clerk")
    await login(client, "clerk1")
    resp = await client.get("/", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/cases"
    resp = await client.get("/cases", allow_redirects=False)
    assert resp.status == 200
    assert (await (await client.get("/api/v1/auth/me")).json())["username"] == "clerk1"
    stolen = {c.key: c.value for c in client.session.cookie_jar}[SESSION_COOKIE]

    resp = await client.post("/logout", data={"csrf_token": csrf(client)}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/login"
    assert SESSION_COOKIE not in {c.key for c in client.session.cookie_jar}
    resp = await client.get("/cases", allow_redirects=False)
    assert resp.status in (302, 303) and resp.headers["Location"].startswith("/login")
    # The old cookie, sent again (as a copy of it would be), is dead on the server too: the
    # pages send it to the login form and the API answers 401.
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: stolen})
    resp = await client.get("/cases", allow_redirects=False)
    assert resp.status in (302, 303) and resp.headers["Location"].startswith("/login")
    resp = await client.get("/api/v1/auth/me")
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "session_expired"


async def test_wrong_password_is_refused_and_throttled(client):
    await make_user(client, "clerk2", "clerk")
    await client.get("/login")
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
