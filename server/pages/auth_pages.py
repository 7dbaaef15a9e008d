"""Login, logout and the home redirect."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from server.appkeys import DB, USER
from server.auth import authenticate, end_session, start_session
from server.errors import TooManyRequests, Unauthorized
from server.http import render, see_other


def _safe_next(value: str | None) -> str:
    # Only same-site paths: an open redirect after login would be a phishing aid.
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    parts = urlsplit(value)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def home(request: web.Request) -> web.StreamResponse:
    if request.get(USER) is None:
        raise web.HTTPFound("/login")
    raise web.HTTPFound("/cases")


async def login_form(request: web.Request) -> web.Response:
    return render(
        request,
        "login.html",
        {"error": None, "next": _safe_next(request.query.get("next")), "username": ""},
    )


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    nxt = _safe_next(str(form.get("next", "")))
    db = request[DB]
    try:
        user = await authenticate(db, request, username, password)
    except (Unauthorized, TooManyRequests) as exc:
        status = 429 if isinstance(exc, TooManyRequests) else 401
        return render(
            request,
            "login.html",
            {"error": exc.message, "next": nxt, "username": username},
            status=status,
        )
    response = see_other(nxt)
    await start_session(db, request, user, response)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    response = see_other("/login")
    await end_session(request[DB], request, response)
    return response


def setup(app: web.Application) -> None:
    app.router.add_get("/", home, name="home")
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", login_submit, name="login_submit")
    app.router.add_post("/logout", logout, name="logout")
