"""Accounts' credentials: password hashes, login checks with throttling, browser sessions and
API tokens as stored rows.

This is domain code: it takes a ``Context`` (the caller's address is on its actor) and never
a web request. Cookies, CSRF and the middleware that resolves the caller live in
``server.web.auth``; what a user may do to a case is decided in ``server.access``.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select

from server.context import Context
from server.errors import TooManyRequests, Unauthorized
from server.models.accounts import ApiToken, LoginAttempt, User, WebSession

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the username does not exist, so timing does not tell.
    Made at the first login, not at import: argon2 at the product's cost is ~0.15 s of CPU,
    which every process (each CLI command, each worker) paid for nothing."""
    return _hasher.hash("courtlink-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _address(ctx: Context) -> str:
    return ctx.actor.address or "unknown"


async def check_login_throttle(ctx: Context, username: str) -> None:
    settings = ctx.settings
    since = ctx.now() - timedelta(minutes=settings.login_lockout_minutes)
    by_name = await ctx.db.scalar(
        select(func.count()).where(LoginAttempt.username == username, LoginAttempt.at >= since)
    )
    by_addr = await ctx.db.scalar(
        select(func.count()).where(LoginAttempt.address == _address(ctx), LoginAttempt.at >= since)
    )
    # An address gets more tries than one account: an office may share one public address.
    if (by_name or 0) >= settings.login_max_failures or (by_addr or 0) >= (
        settings.login_max_failures * 4
    ):
        raise TooManyRequests("too many failed logins; try again later", code="login_throttled")


async def authenticate(ctx: Context, username: str, password: str) -> User:
    """Check a username and password, counting failures. Raises Unauthorized or 429."""
    await check_login_throttle(ctx, username)
    user = await ctx.db.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else _dummy_hash(), password)
    if not (user and ok and user.active):
        ctx.db.add(LoginAttempt(username=username, address=_address(ctx), at=ctx.now()))
        # The failure must be counted even though the request ends in an error.
        await ctx.db.commit()
        raise Unauthorized("wrong username or password", code="bad_credentials")
    await ctx.db.execute(delete(LoginAttempt).where(LoginAttempt.username == username))
    return user


async def open_web_session(ctx: Context, user: User) -> str:
    """Store a new browser session for ``user``; return the secret for its cookie."""
    key = secrets.token_urlsafe(32)
    expires = ctx.now() + timedelta(hours=ctx.settings.session_hours)
    ctx.db.add(WebSession(key_hash=sha256_hex(key), user_id=user.id, expires_at=expires))
    return key


async def close_web_session(ctx: Context, key: str) -> None:
    await ctx.db.execute(delete(WebSession).where(WebSession.key_hash == sha256_hex(key)))


async def issue_token(ctx: Context, user: User) -> tuple[str, datetime]:
    token = "clk_" + secrets.token_urlsafe(32)
    expires = ctx.now() + timedelta(days=ctx.settings.token_days)
    ctx.db.add(ApiToken(token_hash=sha256_hex(token), user_id=user.id, expires_at=expires))
    return token, expires


async def user_for_token(ctx: Context, token: str) -> User | None:
    """The active user a bearer token belongs to; Unauthorized for an unknown, revoked or
    expired token (a client that sends a bad token must hear so, not be treated as anonymous)."""
    # The token and its user in one statement: every API request pays for this one.
    found = (
        await ctx.db.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == sha256_hex(token))
        )
    ).first()
    if found is None or found[0].revoked_at is not None or found[0].expires_at <= ctx.now():
        raise Unauthorized("invalid or expired token", code="bad_token")
    user: User = found[1]
    return user if user.active else None


async def user_for_session(ctx: Context, key: str) -> User | None:
    """The active user a browser session secret belongs to, or None when it expired."""
    sess = await ctx.db.scalar(select(WebSession).where(WebSession.key_hash == sha256_hex(key)))
    if sess is not None and sess.expires_at > ctx.now():
        user = await ctx.db.get(User, sess.user_id)
        if user and user.active:
            return user
    return None
