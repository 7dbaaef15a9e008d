"""The error model end to end: pages render a full error page for a logged-in user, huge ids
are plain 404s on every backend, and an API client without cookies needs no CSRF token."""

from __future__ import annotations

from tests.helpers import PASSWORD, login, make_user


async def test_error_page_for_logged_in_user_is_the_full_page(client):
    await make_user(client, "clerk_err", "clerk", display_name="书记员甲")
    await login(client, "clerk_err")
    resp = await client.get("/cases/987654")
    assert resp.status == 404
    body = await resp.text()
    assert "<html" in body and "书记员甲" in body  # the header with the user, not a bare line


async def test_huge_case_id_is_not_found_not_a_database_error(client):
    await make_user(client, "clerk_big", "clerk")
    await login(client, "clerk_big")
    for path in ("/cases/99999999999999999999", "/api/v1/cases/99999999999999999999"):
        resp = await client.get(path)
        assert resp.status == 404, path


async def test_token_endpoint_needs_no_csrf_without_cookies(client):
    await make_user(client, "api_user", "clerk")
    resp = await client.post(
        "/api/v1/auth/token", json={"username": "api_user", "password": PASSWORD}
    )
    assert resp.status == 201, await resp.text()


async def test_cookie_session_form_post_still_needs_csrf(client):
    await make_user(client, "clerk_csrf", "clerk")
    await login(client, "clerk_csrf")
    resp = await client.post("/logout", data={})
    assert resp.status == 403
