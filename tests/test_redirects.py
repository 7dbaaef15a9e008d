"""Redirects built from input stay on this site and inside their header (issue 12: finding 6,
the open redirect after login, and the verification code that broke its Location header)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from server.web.params import same_site_path
from tests.helpers import PASSWORD, csrf, make_user

OFF_SITE = [
    "/\\evil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "//evil.example",
    "/%2F/evil.example",
    "/\t/evil.example",
    "/%09/evil.example",
    "/%0d%0aSet-Cookie:x=1",
    "https://evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "",
]


@pytest.mark.parametrize("value", OFF_SITE)
def test_only_a_same_site_path_is_a_next(value: str) -> None:
    assert same_site_path(value) == "/"


@pytest.mark.parametrize("value", ["/cases", "/cases/3?page=2", "/sessions/4/join"])
def test_a_same_site_path_is_kept(value: str) -> None:
    assert same_site_path(value) == value


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("value", ["/\\evil.example", "//evil.example", "/%5Cevil.example"])
async def test_login_never_redirects_off_site(client: TestClient, value: str) -> None:
    await make_user(client, "clerk1", "clerk")
    form = await client.get("/login", params={"next": value})
    assert form.status == 200
    assert "evil.example" not in await form.text()
    resp = await client.post(
        "/login",
        data={"username": "clerk1", "password": PASSWORD, "next": value,
              "csrf_token": csrf(client)},
        allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 303
    assert resp.headers["Location"] == "/"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_login_keeps_a_same_site_next(client: TestClient) -> None:
    await make_user(client, "clerk1", "clerk")
    await client.get("/login")
    resp = await client.post(
        "/login",
        data={"username": "clerk1", "password": PASSWORD, "next": "/cases?page=2",
              "csrf_token": csrf(client)},
        allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 303
    assert resp.headers["Location"] == "/cases?page=2"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("code", ["A%0d%0aX", "A%00X", "A%0aSet-Cookie:%20x=1", "A/../../cases"])
async def test_a_verification_code_cannot_break_its_redirect(client: TestClient, code: str) -> None:
    resp = await client.get(f"/verify?code={code}", allow_redirects=False)
    assert resp.status == 303
    location = resp.headers["Location"]
    assert location.startswith("/verify/")
    assert not any(ord(c) < 0x21 for c in location)
    assert "/" not in location.removeprefix("/verify/")
    assert "Set-Cookie" not in resp.headers
    followed = await client.get(location, allow_redirects=False)
    assert followed.status == 404
