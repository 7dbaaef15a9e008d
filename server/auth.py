"""Who is asking: passwords, browser sessions, bearer tokens, CSRF and login throttling.

The middleware here resolves the caller once per request into ``request[USER]`` (a ``User``
or ``None``); handlers then call ``require_user`` / ``require_role``. What a user may do to a
given case is decided in ``server.access``, not here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.appkeys import (
    AUTH_VIA,
    CSRF_NEW,
    CSRF_TOKEN,
    DB,
    SESSION_EXPIRED,
    SETTINGS,
    USER,
)
from server.errors import Forbidden, Handler, TooManyRequests, Unauthorized
from server.models.accounts import ApiToken, LoginAttempt, User, WebSession
from server.models.base import utcnow

SESSION_COOKIE = "cl_session"
CSRF_COOKIE = "cl_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
STATIC_PREFIX = "/static/"

_hasher = PasswordHasher()
# A hash to verify against when the username does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash("courtlink-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


async def check_login_throttle(db: AsyncSession, request: web.Request, username: str) -> None:
    settings = request.app[SETTINGS]
    since = utcnow() - timedelta(minutes=settings.login_lockout_minutes)
    by_name = await db.scalar(
        select(func.count()).where(LoginAttempt.username == username, LoginAttempt.at >= since)
    )
    by_addr = await db.scalar(
        select(func.count()).where(
            LoginAttempt.address == client_address(request), LoginAttempt.at >= since
        )
    )
    # An address gets more tries than one account: an office may share one public address.
    if (by_name or 0) >= settings.login_max_failures or (by_addr or 0) >= (
        settings.login_max_failures * 4
    ):
        raise TooManyRequests("too many failed logins; try again later", code="login_throttled")


async def authenticate(
    db: AsyncSession, request: web.Request, username: str, password: str
) -> User:
    """Check a username and password, counting failures. Raises Unauthorized or 429."""
    await check_login_throttle(db, request, username)
    user = await db.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if not (user and ok and user.active):
        db.add(LoginAttempt(username=username, address=client_address(request)))
        # The failure must be counted even though the request ends in an error.
        await db.commit()
        raise Unauthorized("wrong username or password", code="bad_credentials")
    await db.execute(delete(LoginAttempt).where(LoginAttempt.username == username))
    return user


async def start_session(
    db: AsyncSession, request: web.Request, user: User, response: web.StreamResponse
) -> None:
    settings = request.app[SETTINGS]
    key = secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(hours=settings.session_hours)
    db.add(WebSession(key_hash=sha256_hex(key), user_id=user.id, expires_at=expires))
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


async def end_session(db: AsyncSession, request: web.Request, response: web.StreamResponse) -> None:
    key = request.cookies.get(SESSION_COOKIE)
    if key:
        await db.execute(delete(WebSession).where(WebSession.key_hash == sha256_hex(key)))
    response.del_cookie(SESSION_COOKIE, path="/")


async def issue_token(db: AsyncSession, request: web.Request, user: User) -> tuple[str, datetime]:
    settings = request.app[SETTINGS]
    token = "clk_" + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(days=settings.token_days)
    db.add(ApiToken(token_hash=sha256_hex(token), user_id=user.id, expires_at=expires))
    return token, expires


async def _user_from_request(db: AsyncSession, request: web.Request) -> tuple[User | None, str]:
    now = utcnow()
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header[7:].strip()
        row = await db.scalar(select(ApiToken).where(ApiToken.token_hash == sha256_hex(token)))
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            raise Unauthorized("invalid or expired token", code="bad_token")
        user = await db.get(User, row.user_id)
        return (user if user and user.active else None), "token"
    key = request.cookies.get(SESSION_COOKIE)
    if key:
        sess = await db.scalar(select(WebSession).where(WebSession.key_hash == sha256_hex(key)))
        if sess is not None and sess.expires_at > now:
            user = await db.get(User, sess.user_id)
            if user and user.active:
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
        # Static files need no user, and db_middleware opens no session for them.
        return await handler(request)
    db: AsyncSession = request[DB]
    user, via = await _user_from_request(db, request)
    request[USER] = user
    request[AUTH_VIA] = via
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
