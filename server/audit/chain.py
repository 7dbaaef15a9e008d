"""The sequencer: gives committed audit rows their place in the hash chain.

One pass (``chain_pending``) takes the rows that have no place yet in id order, links each to
the one before (``prev_hash``) and hashes it, in one short transaction. Only one pass runs at
a time in the whole cluster: on PostgreSQL it holds a transaction-level advisory lock that
only sequencers ask for (``pg_try_advisory_xact_lock``: a second node's pass just returns,
and a node that dies releases it with its connection); on SQLite the pass is a write
transaction, which the database already serializes. Request transactions never touch that
lock, so the log costs them one INSERT each.

Rows are chained in the order they become visible, which is commit order up to a pass: a row
whose transaction commits late gets a later place than rows with higher ids. The position,
not the id, is the chain's order.

``Sequencer.run`` is the background worker: woken after every commit that wrote a row (the
``audit`` signal) and at least every ``POLL_S``, so a row waits well under a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.checkpoints import checkpoint_if_due, is_due
from server.context import Court
from server.db import not_cut_short, reading
from server.models.audit import AuditCheckpoint, AuditEntry
from server.models.base import utcnow

log = logging.getLogger(__name__)

GENESIS = "0" * 64
SEQUENCER_LOCK_KEY = 0x636C61  # "cla": courtlink audit; only sequencers take it
BATCH = 1000
POLL_S = 0.25
TURN_WAIT_S = 30.0  # chain_all gives up when another pass holds the turn this long
FINISH_S = 5.0  # a stopping server chains batches for this long (``Sequencer.finish``)


def digest(entry: AuditEntry, prev_hash: str) -> str:
    """The row's hash: its content and its predecessor's hash (the same fields as rows
    chained before the sequencer, so those still verify)."""
    payload = json.dumps(
        {
            "id": entry.id,
            "at": entry.at.isoformat(),
            "actor": entry.actor,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_id": entry.object_id,
            "detail": entry.detail,
            "address": entry.address,
            "prev": prev_hash,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class Head:
    size: int  # rows chained (the last position)
    hash: str  # the last row's hash, GENESIS for an empty chain


async def chain_head(db: AsyncSession) -> Head:
    last = await db.scalar(
        select(AuditEntry)
        .where(AuditEntry.seq.is_not(None))
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    )
    if last is None or last.seq is None or last.hash is None:
        return Head(0, GENESIS)
    return Head(last.seq, last.hash)


async def pending_count(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).where(AuditEntry.seq.is_(None))) or 0)


async def _take_turn(db: AsyncSession) -> bool:
    if db.get_bind().dialect.name != "postgresql":
        return True  # the write transaction itself is the one writer
    got = await db.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SEQUENCER_LOCK_KEY})
    return bool(got)


async def chain_pending(court: Court, *, batch: int = BATCH) -> int:
    """Chain up to ``batch`` committed rows and sign a checkpoint when one is due; returns
    how many rows were chained (0 when none waited or another node holds the turn)."""
    async with reading(court.sessionmaker) as peek:
        # One round trip, as an idle sequencer asks four times a second: does a row wait,
        # and else is a checkpoint owed over what was chained since the last one?
        last = select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1)
        waiting, size, last_size, last_at = (
            await peek.execute(
                select(
                    select(AuditEntry.id)
                    .where(AuditEntry.seq.is_(None))
                    .limit(1)
                    .scalar_subquery(),
                    select(func.max(AuditEntry.seq)).scalar_subquery(),
                    last.with_only_columns(AuditCheckpoint.size).scalar_subquery(),
                    last.with_only_columns(AuditCheckpoint.at).scalar_subquery(),
                )
            )
        ).one()
    if waiting is None:
        if is_due(size or 0, last_size, last_at, court.clock()):
            await _sign_head(court)
        return 0  # nothing waits: no write lock taken on SQLite
    async with court.sessionmaker() as db, db.begin():
        if not await _take_turn(db):
            return 0
        head = await chain_head(db)
        rows = (
            await db.scalars(
                select(AuditEntry)
                .where(AuditEntry.seq.is_(None))
                .order_by(AuditEntry.id)
                .limit(batch)
            )
        ).all()
        now = utcnow()  # the real clock, as ``written_at``: the delay between them is real
        size, prev = head.size, head.hash
        for row in rows:
            size += 1
            row.seq, row.prev_hash, row.chained_at = size, prev, now
            row.hash = prev = digest(row, prev)
        await db.flush()
        await checkpoint_if_due(db, court, size, prev)
    return len(rows)


async def _sign_head(court: Court) -> None:
    """A checkpoint over rows chained since the last one, when no row waits any more."""
    async with court.sessionmaker() as db, db.begin():
        if await _take_turn(db):
            head = await chain_head(db)
            await checkpoint_if_due(db, court, head.size, head.hash)


async def chain_all(court: Court) -> int:
    """Chain everything that waits (the CLI's and the demo's way, with no server running)."""
    total = 0
    waited_since: float | None = None
    while True:
        n = await chain_pending(court)
        total += n
        if n:
            waited_since = None
            continue
        async with reading(court.sessionmaker) as db:
            if not await pending_count(db):
                return total
        # Rows wait but another pass (a running server's sequencer, another node's) holds the
        # turn: it commits within one short transaction, so look again shortly. "All" means
        # all, or a caller that chains and then reads would see rows still waiting. A turn
        # held for long is a stuck transaction somewhere: say so rather than wait for ever.
        now = asyncio.get_running_loop().time()
        waited_since = now if waited_since is None else waited_since
        if now - waited_since > TURN_WAIT_S:
            raise RuntimeError(
                f"audit rows wait but another pass has held the sequencer's turn for over "
                f"{TURN_WAIT_S:.0f} s (a transaction stuck on the database?)"
            )
        await asyncio.sleep(0.02)


class Sequencer:
    """The background worker (see the module docstring)."""

    def __init__(self, court: Court) -> None:
        self.court = court
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            if await not_cut_short(chain_pending(self.court)) == BATCH:
                continue  # more may wait: no pause between full batches
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_S)

    async def finish(self) -> None:
        """On shutdown: chain what the last requests wrote, so a stopped server leaves no row
        waiting. Batch by batch for up to ``FINISH_S``, each batch's transaction run to its
        end (``not_cut_short``): one cut short would only be rolled back and done again.
        What still waits then, or a database already gone, is left to the next start."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FINISH_S
        try:
            while await not_cut_short(chain_pending(self.court)) == BATCH:
                if loop.time() > deadline:
                    log.warning("audit rows left unchained at shutdown: more than %s s", FINISH_S)
                    return
        except (SQLAlchemyError, OSError):
            log.warning("audit rows left unchained at shutdown", exc_info=True)
