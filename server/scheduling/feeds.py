"""Calendar feeds: a secret, revocable iCalendar URL per user for their own calendar app.

The URL carries a random token; only its SHA-256 is stored. Making a new URL revokes the old
one, and a revoked or unknown token is a 404 (a feed URL says nothing about whether it ever
existed). What a feed shows: a host's own sessions; office staff's office's sessions; the
clerks' and admins' whole court. Cancelled sessions stay in the feed as CANCELLED for a
while, so a calendar that subscribed removes them.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth import sha256_hex
from server.errors import NotFound
from server.models.accounts import Role, User
from server.models.scheduling import Booking, CalendarFeed
from server.settings import Settings

PAST_DAYS = 30


def feed_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}/calendar/{token}.ics"


async def new_feed(db: AsyncSession, user: User, now: datetime) -> str:
    """Revoke the user's current feed and return the token of a new one."""
    await revoke_feeds(db, user, now)
    token = secrets.token_urlsafe(24)
    db.add(CalendarFeed(user_id=user.id, token_hash=sha256_hex(token), created_at=now))
    await db.flush()
    return token


async def revoke_feeds(db: AsyncSession, user: User, now: datetime) -> int:
    result = await db.execute(
        update(CalendarFeed)
        .where(CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def active_feed(db: AsyncSession, user: User) -> CalendarFeed | None:
    return await db.scalar(
        select(CalendarFeed).where(
            CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None)
        )
    )


async def feed_owner(db: AsyncSession, token: str) -> User:
    feed = await db.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == sha256_hex(token)))
    user = await db.get(User, feed.user_id) if feed is not None else None
    if feed is None or feed.revoked_at is not None or user is None or not user.active:
        raise NotFound("no such calendar", code="feed_not_found")
    return user


async def feed_bookings(db: AsyncSession, user: User, now: datetime) -> list[Booking]:
    query = select(Booking).where(Booking.starts_at >= now - timedelta(days=PAST_DAYS))
    if user.role in (Role.MEDIATOR, Role.JUDGE):
        query = query.where(Booking.host_id == user.id)
    elif user.role == Role.OFFICE_STAFF:
        query = query.where(Booking.office_id == user.office_id)
    return list(await db.scalars(query.order_by(Booking.starts_at).limit(2000)))
