"""Login, logout and the home redirect."""

from __future__ import annotations

from aiohttp import web

from server.auth import authenticate
from server.errors import TooManyRequests, Unauthorized
from server.web.auth import log_in, log_out
from server.web.errors import worded
from server.web.http import render, see_other
from server.web.keys import CTX, USER
from server.web.params import same_site_path


async def home(request: web.Request) -> web.StreamResponse:
    if request.get(USER) is None:
        raise web.HTTPFound("/login")
    raise web.HTTPFound("/cases")


async def login_form(request: web.Request) -> web.Response:
    return render(
        request,
        "login.html",
        {"error": None, "next": same_site_path(request.query.get("next")), "username": ""},
    )


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    nxt = same_site_path(str(form.get("next", "")))
    try:
        user = await authenticate(request[CTX], username, password)
    except (Unauthorized, TooManyRequests) as exc:
        status = 429 if isinstance(exc, TooManyRequests) else 401
        return render(
            request,
            "login.html",
            {"error": worded(request, exc), "next": nxt, "username": username},
            status=status,
        )
    response = see_other(nxt)
    await log_in(request, user, response)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    response = see_other("/login")
    await log_out(request, response)
    return response
