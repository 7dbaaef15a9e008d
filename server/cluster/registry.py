"""The cluster's registry of live nodes, in Redis.

Each node keeps one key, ``<cluster>:node:<id>``, holding what the others need to know of it
(the address browsers reach its media on, when it started, whether it is draining, its load)
and expiring ``DEAD_AFTER_S`` after its last report. The node rewrites it every
``BEAT_S``; a node that dies (or loses Redis) simply stops, and Redis itself forgets it.
Listing the live nodes is a scan of those keys: a cluster has tens of nodes, not thousands.

The load is what placement compares (``least_loaded``): live rooms first, then participants,
then CPU. Rooms weigh most because a room, once placed, stays on its node for its whole
session, while CPU swings from second to second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.tasks import stop_if_cancelled

BEAT_S = 1.0
# A few missed reports, not one: a node busy for a moment (a garbage collection, a burst of
# bookings) must not be declared dead and have its rooms moved.
DEAD_AFTER_S = 5.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Load:
    rooms: int = 0  # live sessions whose room is here
    participants: int = 0  # signaling connections in those rooms
    streams: int = 0  # published tracks the SFU forwards
    cpu_percent: float = 0.0  # this process, over the last report's interval


@dataclass(frozen=True)
class NodeInfo:
    id: str
    address: str  # the host browsers reach this node's media on
    url: str  # where other nodes and the front reach its HTTP
    started_at: str
    draining: bool = False
    load: Load = field(default_factory=Load)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> NodeInfo:
        data = json.loads(raw)
        return cls(**{**data, "load": Load(**data.get("load", {}))})


def least_loaded(nodes: list[NodeInfo]) -> NodeInfo | None:
    """Where a new room goes: the node with the fewest rooms, then participants, then CPU,
    never a draining one; ties by id, so every node that asks gets the same answer."""
    open_nodes = [n for n in nodes if not n.draining]
    if not open_nodes:
        return None
    return min(
        open_nodes,
        key=lambda n: (n.load.rooms, n.load.participants, n.load.cpu_percent, n.id),
    )


class CpuMeter:
    """This process's CPU use between two readings, in percent of one core."""

    def __init__(self) -> None:
        self._last = (time.monotonic(), time.process_time())

    def read(self) -> float:
        wall, cpu = time.monotonic(), time.process_time()
        last_wall, last_cpu = self._last
        self._last = (wall, cpu)
        return round(100 * (cpu - last_cpu) / max(wall - last_wall, 1e-6), 1)


class Registry:
    """This node's entry and the view of the others."""

    def __init__(
        self,
        redis: Redis,
        cluster: str,
        me: NodeInfo,
        load: Callable[[], Load] = Load,
    ) -> None:
        self.redis = redis
        self.prefix = f"{cluster}:node:"
        self.me = me
        self._load = load
        self._cpu = CpuMeter()

    def _key(self, node_id: str) -> str:
        return self.prefix + node_id

    async def beat(self) -> None:
        """Report this node (and its load) now; it stays alive for ``DEAD_AFTER_S``."""
        load = self._load()
        load = Load(load.rooms, load.participants, load.streams, self._cpu.read())
        self.me = replace(self.me, load=load)
        await self.redis.set(self._key(self.me.id), self.me.to_json(), px=int(DEAD_AFTER_S * 1000))

    async def set_draining(self, draining: bool = True) -> None:
        self.me = replace(self.me, draining=draining)
        await self.beat()

    async def leave(self) -> None:
        """A clean stop: gone for everyone at once, not after ``DEAD_AFTER_S``."""
        await self.redis.delete(self._key(self.me.id))

    async def nodes(self) -> list[NodeInfo]:
        """Every live node, this one included, by id."""
        keys = [key async for key in self.redis.scan_iter(match=self.prefix + "*", count=100)]
        if not keys:
            return []
        found = []
        for raw in await self.redis.mget(keys):
            if raw is not None:  # expired between the scan and the read
                found.append(NodeInfo.from_json(raw))
        return sorted(found, key=lambda n: n.id)

    async def run(self) -> None:
        """Report every ``BEAT_S`` until cancelled. Redis going away is logged and waited
        out: the node keeps serving its rooms, and reappears once Redis is back."""
        down = False
        while True:
            try:
                await self.beat()
                if down:
                    log.info("node %s: Redis is back; reporting again", self.me.id)
                down = False
            except (RedisError, OSError):
                stop_if_cancelled()
                if not down:
                    log.warning("node %s: cannot reach Redis", self.me.id, exc_info=True)
                down = True
            await asyncio.sleep(BEAT_S)

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self.leave()


def started_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
