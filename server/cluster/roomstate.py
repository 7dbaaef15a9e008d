"""Each live room's last state in Redis, so that another node can take the room over.

The room's node saves the room's snapshot (who is in it, where, their resume tokens:
``signaling.rooms.Room.snapshot``) after every change; the node a room is placed on next
(its node was drained or died) loads it when the first participant comes back, and everyone
resumes their place there as after any dropped connection, lobby state included.

Saving never waits: the latest snapshot of each room is queued and one writer sends what is
queued in a single round trip, so a burst of changes in one room costs one write. A key
outlives its room by the resume window and a margin, then expires by itself; an ended
session's key is deleted. The resume tokens are as secret as the invite links they stand in
for: the cluster's Redis must be private to its nodes (see the README).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.tasks import stop_if_cancelled

log = logging.getLogger(__name__)
TTL_MS = 10 * 60 * 1000


class RoomStore:
    """Implements ``signaling.live.RoomKeeper`` on Redis."""

    def __init__(self, redis: Redis, cluster: str) -> None:
        self.redis = redis
        self.prefix = f"{cluster}:roomstate:"
        self._pending: dict[int, str | None] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def save(self, session_id: int, snapshot: dict[str, Any] | None) -> None:
        self._pending[session_id] = (
            None if snapshot is None else json.dumps(snapshot, separators=(",", ":"))
        )
        self._idle.clear()
        self._wake.set()

    async def load(self, session_id: int) -> dict[str, Any] | None:
        try:
            raw = await self.redis.get(self.prefix + str(session_id))
        except (RedisError, OSError):
            log.warning("cannot read room %s's state from Redis; it starts afresh", session_id)
            return None
        return json.loads(raw) if raw else None

    async def run(self) -> None:
        """Write what is queued until cancelled. Redis away: the writes wait for it (only
        each room's latest state is kept meanwhile)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, {}
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for sid, raw in batch.items():
                        if raw is None:
                            pipe.delete(self.prefix + str(sid))
                        else:
                            pipe.set(self.prefix + str(sid), raw, px=TTL_MS)
                    await pipe.execute()
            except (RedisError, OSError):
                stop_if_cancelled()
                log.warning("cannot write rooms' state to Redis; trying again", exc_info=True)
                self._pending = {**batch, **self._pending}
                self._wake.set()
                await asyncio.sleep(0.5)
            if not self._pending:
                self._idle.set()

    async def flush(self, within: float = 2.0) -> None:
        """Wait until what is queued is written (shutdown: before the node leaves)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), within)
