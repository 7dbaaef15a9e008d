"""The background sender: delivers due outbox rows, retrying failures with backoff.

A pass claims due rows in one short transaction (status ``sending`` with a lease, ``FOR
UPDATE SKIP LOCKED`` on PostgreSQL so several processes share the work), sends them outside
any transaction, then records each result. A process that dies mid-send leaves a lease that
runs out, and the row is sent again: delivery is at least once. E-mail waits in the outbox
while ``COURTLINK_SMTP_URL`` is empty; SMS goes through ``server.scheduling.sms``.

The sender is built from the ``Court`` (its settings and clock, read at each pass so a held
clock holds here too) and started by the app's task supervisor; ``wake`` is what the court's
"outbox" signal calls after a booking change commits (``server.scheduling.outbox.enqueue``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.context import Court
from server.db import not_cut_short, reading
from server.models.base import utcnow
from server.models.scheduling import OutboxMessage, OutboxStatus
from server.scheduling.mail import SmtpTarget, build_email, parse_smtp_url, send_email
from server.scheduling.sms import SmsBackend, load_backend

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)
BATCH = 50


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes after each failure, at most an hour."""
    return timedelta(seconds=min(60 * 2 ** (attempts - 1), 3600))


class OutboxSender:
    def __init__(self, court: Court, poll_seconds: float = 10.0) -> None:
        self.court = court
        self.settings = settings = court.settings
        self.poll_seconds = poll_seconds
        self.smtp: SmtpTarget | None = (
            parse_smtp_url(settings.smtp_url) if settings.smtp_url else None
        )
        self.sms: SmsBackend = load_backend(settings)
        self.autostart = True
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    def _channels(self) -> list[str]:
        return ["sms"] + (["email"] if self.smtp else [])

    def _due(self, now: datetime) -> ColumnElement[bool]:
        """Messages of a channel this sender has, due now or left by a sender that died."""
        return and_(
            OutboxMessage.channel.in_(self._channels()),
            or_(
                (OutboxMessage.status == OutboxStatus.PENDING)
                & (OutboxMessage.next_attempt_at <= now),
                (OutboxMessage.status == OutboxStatus.SENDING) & (OutboxMessage.lease_until <= now),
            ),
        )

    async def _claim(self, db: AsyncSession, now: datetime) -> list[OutboxMessage]:
        query = (
            select(OutboxMessage)
            .where(self._due(now))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(BATCH)
        )
        if db.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(await db.scalars(query))
        for row in rows:
            row.status = OutboxStatus.SENDING
            row.lease_until = now + LEASE
        return rows

    async def _deliver(self, row: OutboxMessage) -> None:
        if row.channel == "email":
            assert self.smtp is not None
            await send_email(self.smtp, build_email(row, self.settings))
        else:
            await self.sms.send(row.recipient, row.body)

    async def run_once(
        self, maker: async_sessionmaker[AsyncSession], now: datetime | None = None
    ) -> int:
        """One pass over what is due at ``now``; returns how many were sent."""
        now = now or self.court.clock()
        # Most passes find nothing: look first without taking SQLite's write lock.
        async with reading(maker) as peek:
            if await peek.scalar(select(OutboxMessage.id).where(self._due(now)).limit(1)) is None:
                return 0
        claimed = await not_cut_short(self._claim_pass(maker, now))
        results: dict[int, str | None] = {}
        for row in claimed:
            try:
                await self._deliver(row)
                results[row.id] = None
            except Exception as exc:  # any failure of the outside world is retried
                log.warning("outbox %s to %s failed: %s", row.id, row.recipient, exc)
                results[row.id] = f"{type(exc).__name__}: {exc}"[:500]
        await not_cut_short(self._record(maker, now, results))
        return sum(1 for e in results.values() if e is None)

    async def _claim_pass(
        self, maker: async_sessionmaker[AsyncSession], now: datetime
    ) -> list[OutboxMessage]:
        async with maker.begin() as db:
            claimed = await self._claim(db, now)
            # The claim (status and lease) must reach the database before the rows leave the
            # session: expunged rows are no longer flushed at commit.
            await db.flush()
            db.expunge_all()
        return claimed

    async def _record(
        self,
        maker: async_sessionmaker[AsyncSession],
        now: datetime,
        results: dict[int, str | None],
    ) -> None:
        """What each delivery came to: sent, failed for good, or due again after a back-off."""
        async with maker.begin() as db:
            for row_id, error in results.items():
                found = await db.get(OutboxMessage, row_id)
                if found is None:
                    continue
                row = found
                row.attempts += 1
                row.lease_until = None
                if error is None:
                    row.status, row.sent_at, row.last_error = OutboxStatus.SENT, utcnow(), None
                elif row.attempts >= MAX_ATTEMPTS:
                    row.status, row.last_error = OutboxStatus.FAILED, error
                else:
                    row.status, row.last_error = OutboxStatus.PENDING, error
                    row.next_attempt_at = now + backoff(row.attempts)

    async def run(self, maker: async_sessionmaker[AsyncSession]) -> None:
        while True:
            try:
                await self.run_once(maker)
            except Exception:  # a database hiccup must not kill the sender
                log.exception("outbox pass failed")
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that arrives
            # as the wake-up fires, and the supervisor could not stop the sender.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            self._wake.clear()
