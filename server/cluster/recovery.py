"""Recordings a node left open, finished exactly once: by the node itself when it starts
again, or by a live node when it died and stays dead.

The recordings directory is shared by the nodes (one machine's disk, or NFS: README,
"Several nodes"), so any node can remux a dead node's cut files and seal them with the rest
of their session (``recordings.crash.recover``). Which node does it is decided in Redis: the
first to set ``<cluster>:recover:<node>`` (with an expiry, so a recoverer that dies too
leaves the work to the next). A node restarted under the same id takes its own leftovers
through the same claim, so the two never remux one file at once.

Dead means absent from the registry (``registry.DEAD_AFTER_S`` after its last report) and
then still absent for ``GRACE_S`` more, as this node watched while it could itself see
Redis and its own entry: a Redis restart empties the registry for a moment, and every node
reports again within a beat, so no live node's open segments are taken for a dead one's.
"""

from __future__ import annotations

import asyncio
import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from recordings import crash
from server.cluster.registry import DEAD_AFTER_S, Registry
from server.context import Court
from server.tasks import stop_if_cancelled

CHECK_S = 1.0
GRACE_S = DEAD_AFTER_S
LOCK_MS = 300_000  # longer than any remux of a session's cut files takes
log = logging.getLogger(__name__)


async def recover_node(
    court: Court, redis: Redis, cluster: str, node: str, me: str, *, own: bool = False
) -> list[int] | None:
    """Recover ``node``'s open segments if this node wins the claim (None if another holds
    it). ``own``: this node's own leftovers at its start, with the rows and files from
    before segments named their node."""
    key = f"{cluster}:recover:{node}"
    if not await redis.set(key, me, nx=True, px=LOCK_MS):
        return None
    try:
        return await crash.recover(court, (node, "") if own else (node,))
    finally:
        await redis.delete(key)


class DeadNodes:
    """Watches for nodes that have segments open in the database and are gone from the
    registry; recovers their recordings once they have been gone long enough."""

    def __init__(self, court: Court, registry: Registry, cluster: str) -> None:
        self.court = court
        self.registry = registry
        self.cluster = cluster
        self.absent: dict[str, float] = {}  # node -> when this node first saw it gone
        self.recovered: list[str] = []

    async def check(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        me = self.registry.me.id
        live = {n.id for n in await self.registry.nodes()}
        if me not in live:
            self.absent.clear()  # this node's own view of Redis is not whole: wait
            return
        gone = await crash.open_nodes(self.court) - live - {me, ""}
        self.absent = {node: self.absent.get(node, now) for node in gone}
        for node, since in list(self.absent.items()):
            if now - since < GRACE_S:
                continue
            sessions = await recover_node(self.court, self.registry.redis, self.cluster, node, me)
            if sessions is not None:
                log.warning("recovered dead node %s's recordings of sessions %s", node, sessions)
                self.recovered.append(node)
                del self.absent[node]

    async def run(self) -> None:
        """Check every ``CHECK_S`` until cancelled; Redis or the database away is waited
        out: the next check tries again."""
        while True:
            try:
                await self.check()
            except (RedisError, OSError, SQLAlchemyError):
                stop_if_cancelled()
                log.warning("dead-node recovery: Redis or the database failed", exc_info=True)
                self.absent.clear()
            await asyncio.sleep(CHECK_S)
