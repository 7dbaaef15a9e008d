"""Messages between the nodes of a cluster, over Redis publish/subscribe.

Each node listens on its own channel, ``<cluster>:bus:<node id>``, and on the cluster's
broadcast channel, ``<cluster>:bus:*``; a message is a small JSON object. Redis keeps the
order of what one connection publishes on one channel, and a sender awaits each publish
before the next, so what one node sends another arrives in order. Nothing is stored: a
message for a node that is not listening is lost, which is what a dead node's messages
should be (the senders notice the death through the registry and act on it).

A publish that cannot reach Redis raises ``ConnectionError``, the error every caller
already handles for a socket that went away. The listener rides out a Redis restart: it
logs, waits and subscribes again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.tasks import stop_if_cancelled

log = logging.getLogger(__name__)
RETRY_S = 0.5

Message = dict[str, Any]


class Bus:
    def __init__(
        self, redis: Redis, cluster: str, me: str, deliver: Callable[[Message], None]
    ) -> None:
        self.redis, self.me, self._deliver = redis, me, deliver
        self.prefix = f"{cluster}:bus:"
        self.everyone = self.prefix + "*"
        self.ready = asyncio.Event()  # set once subscribed (again, after a Redis restart)

    async def send(self, node: str, msg: Message) -> int:
        """Publish to ``node``; how many listeners heard it (0: that node is not there)."""
        return await self._publish(self.prefix + node, msg)

    async def broadcast(self, msg: Message) -> int:
        """To every node, this one included."""
        return await self._publish(self.everyone, {**msg, "from": self.me})

    async def _publish(self, channel: str, msg: Message) -> int:
        try:
            return await self.redis.publish(channel, json.dumps(msg, separators=(",", ":")))
        except (RedisError, OSError) as exc:
            raise ConnectionError(f"the cluster's Redis: {exc}") from exc

    async def listening(self, nodes: set[str]) -> dict[str, bool]:
        """Whether each node is subscribed to its channel now (a killed one is not)."""
        if not nodes:
            return {}
        counts = await self.redis.pubsub_numsub(*(self.prefix + n for n in nodes))
        by_channel = {(c.decode() if isinstance(c, bytes) else c): int(k) for c, k in counts}
        return {n: by_channel.get(self.prefix + n, 0) > 0 for n in nodes}

    async def run(self) -> None:
        """Listen until cancelled, subscribing again whenever Redis comes back."""
        while True:
            try:
                await self._listen()
            except (RedisError, OSError):
                stop_if_cancelled()
                log.warning("node %s: lost the cluster's Redis; listening again", self.me)
            self.ready.clear()
            await asyncio.sleep(RETRY_S)

    async def _listen(self) -> None:
        async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
            await pubsub.subscribe(self.prefix + self.me, self.everyone)
            self.ready.set()
            while True:
                raw = await pubsub.get_message(timeout=None)
                if raw is None:
                    continue
                try:
                    msg = json.loads(raw["data"])
                    self._deliver(msg)
                except Exception:  # one bad message must not stop the node's listening
                    log.exception("node %s: a bus message failed", self.me)
