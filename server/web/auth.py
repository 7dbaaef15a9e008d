"""Who is asking, for the web layer: the session cookie or bearer token resolved into the
request's actor, CSRF double-submit, and the handlers' ``require_user`` / ``require_role``.

Credentials as stored rows (password checks, sessions, tokens) are domain code in
``server.auth``; this module only carries them in and out of HTTP.
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web

from server import auth
from server.context import Actor, Context
from server.errors import Forbidden, Unauthorized
from server.models.accounts import User
from server.models.docket import Party
from server.web.body import UNSAFE
from server.web.context import STATIC_PREFIX
from server.web.keys import (
    AUTH_VIA,
    CSRF_NEW,
    CSRF_TOKEN,
    CTX,
    PARTY,
    SESSION_EXPIRED,
    SETTINGS,
    USER,
    Handler,
)

SESSION_COOKIE = "cl_session"
CSRF_COOKIE = "cl_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


def set_session_cookie(request: web.Request, response: web.StreamResponse, key: str) -> None:
    settings = request.app[SETTINGS]
    response.set_cookie(
        SESSION_COOKIE,
        key,
        httponly=True,
        samesite="Lax",
        secure=settings.secure_cookies,
        max_age=settings.session_hours * 3600,
        path="/",
    )
    # A fresh CSRF secret per login, so a token seen before login is worthless after.
    set_csrf_cookie(request, response, secrets.token_urlsafe(32))


async def log_in(request: web.Request, user: User, response: web.StreamResponse) -> None:
    """Open a browser session for ``user`` and set its cookies on ``response``."""
    key = await auth.open_web_session(request[CTX], user)
    set_session_cookie(request, response, key)


async def log_out(request: web.Request, response: web.StreamResponse) -> None:
    key = request.cookies.get(SESSION_COOKIE)
    if key:
        await auth.close_web_session(request[CTX], key)
    response.del_cookie(SESSION_COOKIE, path="/")


async def _user_from_request(ctx: Context, request: web.Request) -> tuple[User | None, str]:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return await auth.user_for_token(ctx, header[7:].strip()), "token"
    key = request.cookies.get(SESSION_COOKIE)
    if key:
        user = await auth.user_for_session(ctx, key)
        if user is not None:
            return user, "cookie"
        request[SESSION_EXPIRED] = True
    return None, "none"


# --- CSRF: double-submit of a per-browser secret kept in an HttpOnly cookie ----------------


def csrf_token(request: web.Request) -> str:
    token: str | None = request.get(CSRF_TOKEN)
    if token is None:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        request[CSRF_TOKEN] = token
        if CSRF_COOKIE not in request.cookies:
            request[CSRF_NEW] = True
    return token


def set_csrf_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    request[CSRF_TOKEN] = token
    response.set_cookie(
        CSRF_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=request.app[SETTINGS].secure_cookies,
        path="/",
    )


async def _check_csrf(request: web.Request) -> None:
    # The body is already in memory (server.web.body reads it before the request's database
    # session exists), so reading the form here waits for no client.
    expected = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise Forbidden(
            "missing or wrong CSRF token; reload the page and try again", code="csrf_failed"
        )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(STATIC_PREFIX):
        # Static files need no user, and the context middleware opens no session for them.
        return await handler(request)
    ctx = request[CTX]
    user, via = await _user_from_request(ctx, request)
    request[USER] = user
    request[AUTH_VIA] = via
    if user is not None:
        ctx.actor = Actor.for_user(user, request.remote)
    # Bearer-token requests carry no ambient credential, so they need no CSRF token; anything
    # a browser sends with cookies does, logged in or not (login and intake forms too).
    # A JSON request without a session cookie carries no ambient credential either (a browser
    # cannot send application/json cross-site without a CORS preflight, which we never allow).
    cookie_less_json = (
        SESSION_COOKIE not in request.cookies and request.content_type == "application/json"
    )
    if request.method in UNSAFE and via != "token" and not cookie_less_json:
        route = request.match_info.route
        if not getattr(route.handler, "csrf_exempt", False):
            await _check_csrf(request)
    response = await handler(request)
    if request.get(CSRF_NEW) and not response.prepared:
        set_csrf_cookie(request, response, request[CSRF_TOKEN])
    return response


def csrf_exempt(handler: Handler) -> Handler:
    """Mark a handler that authenticates by other means (e.g. a signed invite token)."""
    handler.csrf_exempt = True  # type: ignore[attr-defined]
    return handler


def enter_as_party(request: web.Request, party: Party) -> None:
    """A party authenticated by their invite link acts as that party (the audit names them),
    unless an account is logged in on the same browser: then the account answers for it."""
    request[PARTY] = party
    ctx = request[CTX]
    if ctx.actor.kind != "user":
        ctx.actor = Actor.for_party(party, request.remote)


def require_user(request: web.Request) -> User:
    user: User | None = request.get(USER)
    if user is None:
        if request.get(SESSION_EXPIRED):
            raise Unauthorized(
                "your session has expired; please log in again", code="session_expired"
            )
        raise Unauthorized("login required")
    return user


def require_role(request: web.Request, *roles: str) -> User:
    user = require_user(request)
    if user.role not in roles:
        raise Forbidden("your role may not do this")
    return user
