"""Calendar feeds: a secret, revocable iCalendar URL per user for their own calendar app.

The URL carries a random token; only its SHA-256 is stored. Making a new URL revokes the old
one, and a revoked or unknown token is a 404 (a feed URL says nothing about whether it ever
existed). What a feed shows is decided by ``server.access.calendar_feed_clause``. Cancelled
sessions stay in the feed as CANCELLED for a while, so a calendar that subscribed removes them.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update

from server.access import calendar_feed_clause
from server.auth import sha256_hex
from server.context import Context
from server.errors import NotFound
from server.models.accounts import User
from server.models.scheduling import Booking, CalendarFeed
from server.settings import Settings

PAST_DAYS = 30


def feed_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/calendar/{token}.ics"


async def new_feed(ctx: Context) -> str:
    """Revoke the acting user's current feed and return the token of a new one."""
    user = ctx.require_user()
    await revoke_feeds(ctx)
    token = secrets.token_urlsafe(24)
    ctx.db.add(CalendarFeed(user_id=user.id, token_hash=sha256_hex(token), created_at=ctx.now()))
    await ctx.db.flush()
    return token


async def revoke_feeds(ctx: Context) -> int:
    """Revoke the acting user's feed; how many were active."""
    user = ctx.require_user()
    result = await ctx.db.execute(
        update(CalendarFeed)
        .where(CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=ctx.now())
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def active_feed(ctx: Context) -> CalendarFeed | None:
    user = ctx.require_user()
    return await ctx.db.scalar(
        select(CalendarFeed).where(
            CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None)
        )
    )


async def feed_owner(ctx: Context, token: str) -> User:
    """The user whose feed the token opens (the token is the credential: the request that
    carries it has no login)."""
    db = ctx.db
    feed = await db.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == sha256_hex(token)))
    user = await db.get(User, feed.user_id) if feed is not None else None
    if feed is None or feed.revoked_at is not None or user is None or not user.active:
        raise NotFound("no such calendar", code="feed_not_found")
    return user


async def feed_bookings(ctx: Context, owner: User) -> list[Booking]:
    """The sessions in ``owner``'s feed (``server.access.calendar_feed_clause``), from
    ``PAST_DAYS`` ago on."""
    query = select(Booking).where(
        calendar_feed_clause(owner), Booking.starts_at >= ctx.now() - timedelta(days=PAST_DAYS)
    )
    return list(await ctx.db.scalars(query.order_by(Booking.starts_at).limit(2000)))
