"""Users: the admin API with its access matrix, the rules of ``server.accounts``, and
``courtlink user add`` run as a real process."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import func, select

from server.models.accounts import User
from server.models.audit import AuditEntry
from server.web.keys import SESSIONMAKER
from tests.helpers import PASSWORD, csrf, login, make_user
from tests.kill_helpers import courtlink_environ

ROLES = ["admin", "clerk", "judge", "mediator", "office_staff"]
NEW = {
    "username": "wang.fang",
    "display_name": "王芳",
    "role": "mediator",
    "office": "center",
    "password": "long-enough-password",
    "email": "wang.fang@court.example",
}


async def api_token(client, username: str, password: str = PASSWORD) -> str:
    # tests.helpers.api_token posts with no CSRF cookie, which the token endpoint refuses
    # today (it is not CSRF-exempt); a browser-like client carrying the header works both ways.
    await client.get("/login")
    resp = await client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": password},
        headers={"X-CSRF-Token": csrf(client)},
    )
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["token"])


async def _token(client, role: str) -> dict[str, str]:
    office = "shaping" if role == "office_staff" else "center"
    await make_user(client, f"{role}1", role, office)
    return {"Authorization": f"Bearer {await api_token(client, f'{role}1')}"}


@pytest.mark.parametrize("role", ROLES)
async def test_users_api_is_admin_only(client, role):
    headers = await _token(client, role)
    expected = 200 if role == "admin" else 403
    assert (await client.get("/api/v1/users", headers=headers)).status == expected
    resp = await client.post("/api/v1/users", json=NEW, headers=headers)
    assert resp.status == (201 if role == "admin" else 403), await resp.text()
    me = (await (await client.get("/api/v1/auth/me", headers=headers)).json())["id"]
    other = await make_user(client, "other1", "clerk")
    for method, path in [
        ("GET", f"/api/v1/users/{other.id}"),
        ("PATCH", f"/api/v1/users/{other.id}"),
        ("DELETE", f"/api/v1/users/{other.id}"),
    ]:
        kw = {"json": {"display_name": "改名"}} if method == "PATCH" else {}
        resp = await client.request(method, path, headers=headers, **kw)
        assert resp.status == expected, (method, path, await resp.text())
    assert me


async def test_users_api_anonymous_gets_401(client):
    await client.get("/login")  # a CSRF cookie, so the POST reaches the login check
    for method, path in [("GET", "/api/v1/users"), ("POST", "/api/v1/users")]:
        resp = await client.request(method, path, json=NEW, headers={"X-CSRF-Token": csrf(client)})
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "unauthorized"


async def test_admin_creates_lists_updates_and_deactivates(client):
    headers = await _token(client, "admin")
    resp = await client.post("/api/v1/users", json=NEW, headers=headers)
    assert resp.status == 201
    created = await resp.json()
    assert created["office"] == "center" and created["active"] is True
    assert "password" not in created and "password_hash" not in created

    listed = await (await client.get("/api/v1/users?role=mediator", headers=headers)).json()
    assert [u["username"] for u in listed] == ["wang.fang"]
    by_office = await (await client.get("/api/v1/users?office=shaping", headers=headers)).json()
    assert by_office == []

    # The new user can log in and read their own profile.
    token = await api_token(client, "wang.fang", NEW["password"])
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert (await me.json())["display_name"] == "王芳"

    uid = created["id"]
    resp = await client.patch(
        f"/api/v1/users/{uid}", json={"office": "shaping", "role": "office_staff"}, headers=headers
    )
    assert resp.status == 200
    assert (await resp.json())["office"] == "shaping"

    resp = await client.delete(f"/api/v1/users/{uid}", headers=headers)
    assert resp.status == 200 and (await resp.json())["active"] is False
    # Deactivation ends the user's API tokens at once.
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 401
    inactive = await (await client.get("/api/v1/users?active=false", headers=headers)).json()
    assert [u["id"] for u in inactive] == [uid]

    async with client.app[SESSIONMAKER]() as db:
        actions = (
            await db.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_id == str(uid))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actions == ["user.create", "user.update", "user.update"]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"office": "nowhere"}, 422, "unknown_office"),
        ({"role": "emperor"}, 422, "unknown_role"),
        ({"password": "short"}, 422, "weak_password"),
        ({"username": "a b"}, 422, "bad_username"),
        ({"email": "not-an-address"}, 422, "bad_email"),
        ({"username": "admin1"}, 409, "username_taken"),
        ({"surprise": 1}, 422, "invalid"),
    ],
)
async def test_create_refuses_bad_input(client, change, status, code):
    headers = await _token(client, "admin")
    resp = await client.post("/api/v1/users", json={**NEW, **change}, headers=headers)
    assert resp.status == status, await resp.text()
    assert (await resp.json())["error"]["code"] == code
    async with client.app[SESSIONMAKER]() as db:
        assert await db.scalar(select(func.count()).select_from(User)) == 1  # only admin1


async def test_admin_may_not_lock_themselves_out(client):
    headers = await _token(client, "admin")
    me = (await (await client.get("/api/v1/auth/me", headers=headers)).json())["id"]
    resp = await client.delete(f"/api/v1/users/{me}", headers=headers)
    assert resp.status == 409
    resp = await client.patch(f"/api/v1/users/{me}", json={"role": "clerk"}, headers=headers)
    assert resp.status == 409
    assert (await client.get("/api/v1/users/999999", headers=headers)).status == 404


async def test_password_change_ends_browser_sessions(client):
    headers = await _token(client, "admin")
    clerk = await make_user(client, "clerk9", "clerk")
    await login(client, "clerk9")
    assert (await client.get("/api/v1/auth/me")).status == 200
    resp = await client.patch(
        f"/api/v1/users/{clerk.id}", json={"password": "a-new-long-password"}, headers=headers
    )
    assert resp.status == 200
    assert (await client.get("/api/v1/auth/me")).status == 401


# --- courtlink user add, as a real process ----------------------------------------------------


def _courtlink(settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env=courtlink_environ(settings),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _usernames(settings) -> list[str]:
    from server.db import make_engine, make_sessionmaker

    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as db:
            return list((await db.scalars(select(User.username).order_by(User.id))).all())
    finally:
        await engine.dispose()


async def test_cli_user_add_and_its_refusals(settings):
    ok = _courtlink(
        settings, "user", "add", "li.ming", "--role", "clerk", "--office", "shaping",
        "--name", "李明", "--password", "ten-chars-ok",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "li.ming" in ok.stdout and "shaping" in ok.stdout

    cases = [
        (["li.ming", "--role", "clerk", "--office", "center"], 3, "taken"),
        (["zhao", "--role", "clerk", "--office", "mars"], 2, "unknown office 'mars'"),
        (["zhao", "--role", "clerk", "--office", "center", "--password", "short"], 2, "too short"),
        (["zhao", "--role", "emperor", "--office", "center"], 2, "invalid choice"),
    ]
    for args, code, message in cases:
        if "--password" not in args:
            args = [*args, "--password", "ten-chars-ok"]
        result = _courtlink(settings, "user", "add", *args)
        assert result.returncode == code, (args, result.stdout, result.stderr)
        assert message in result.stderr, result.stderr
    assert await _usernames(settings) == ["li.ming"]


async def test_cli_user_add_prompts_for_the_password(settings):
    result = _courtlink(
        settings, "user", "add", "chen", "--role", "judge", "--office", "center",
        stdin="prompted-password\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert await _usernames(settings) == ["chen"]
