"""A cluster node's live side: rooms placed by load, sockets bridged to their room's node.

``bridge_ctx`` (a cleanup context after the live side's) does nothing on a single server.
On a node it builds the ``Bridge``, the app's ``signaling.remote.ROUTER``: a session's room
is placed (``server.cluster.placement``) when its first participant arrives, on the
least-loaded node; a socket whose room is elsewhere is bridged to it over the cluster's bus
(``server.cluster.bus``, carrying ``signaling.remote``'s messages). Access withdrawn by a
change on any node (the court's ``access_ended`` signal) is withdrawn on every node, since
the room it concerns may be anywhere. Every beat the bridge keeps its rooms placed here and
looks for nodes that died: browsers whose room's node died reconnect, connections whose
socket's node died drop (keeping their places). Each room's state is kept in Redis after
every change (``server.cluster.roomstate``), so the node a room moves to (its node was
stopped or died) gives everyone their place back when they resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from redis.exceptions import RedisError

from server.cluster import ClusterConfigError
from server.cluster.bus import Bus, Message
from server.cluster.placement import Placement
from server.cluster.registry import BEAT_S, Registry
from server.cluster.roomstate import RoomStore
from server.live_access import ACCESS_ENDED, AccessEnded
from server.tasks import stop_if_cancelled
from server.web.keys import COURT, SETTINGS, SUPERVISOR
from server.web.node import NODE
from signaling.conn import Conn
from signaling.hub import HUB, Hub
from signaling.remote import ROUTER, Link, Links, Remotes

# A node missing from the registry this many beats in a row is dead to the bridge: not one
# (after a Redis restart every node is missing until its next report).
log = logging.getLogger(__name__)
DEAD_AFTER_BEATS = 3
# How long a new node waits for its first subscription to the bus before it gives up.
SUBSCRIBE_TIMEOUT_S = 10.0


class Bridge:
    """Implements ``signaling.remote.Router`` for a cluster node."""

    def __init__(self, hub: Hub, registry: Registry, cluster: str) -> None:
        self.hub, self.registry = hub, registry
        self.me = registry.me.id
        redis = registry.redis
        self.placement = Placement(redis, cluster, registry)
        self.bus = Bus(redis, cluster, self.me, self._deliver)
        self.links = Links(self.me, self.bus.send)
        self.remotes = Remotes(hub, self.bus.send)
        self._missing: dict[str, int] = {}  # beats each node has been out of the registry
        self._silent: dict[str, int] = {}  # ... and not listening on the bus
        # ``courtlink drain``: this node stops as on SIGTERM (see ``bridge_ctx``).
        self.on_drain: Callable[[], None] = lambda: None

    async def connect(
        self, session_id: int, conn: Conn, *, host_name: str, resume: str | None
    ) -> Link | None:
        gone: frozenset[str] = frozenset()
        while True:
            node = await self.placement.place(session_id, gone=gone)
            if node == self.me:
                return None
            try:
                return await self.links.open(
                    node, session_id, conn, host_name=host_name, resume=resume
                )
            except ConnectionError:
                if node in gone:
                    raise
                # Killed a moment ago (its registry entry not yet expired): place again.
                gone |= {node}

    def _deliver(self, msg: Message) -> None:
        op = msg.get("op")
        if op in ("open", "frame", "leave"):
            self.remotes.receive(msg)
        elif op in ("send", "close"):
            self.links.receive(msg)
        elif op == "drain":
            log.warning("node %s: asked to drain; stopping, its rooms go to other nodes", self.me)
            self.on_drain()
        elif op == "withdraw" and msg.get("from") != self.me:
            self.hub.withdraw(
                msg["reason"],
                session_id=msg.get("session_id"),
                invite_id=msg.get("invite_id"),
                user_id=msg.get("user_id"),
            )

    def access_ended(self, event: AccessEnded) -> None:
        """The court's ``access_ended`` signal on a node: here at once, then everywhere."""
        self.hub.withdraw(
            event.reason,
            session_id=event.session_id,
            invite_id=event.invite_id,
            user_id=event.user_id,
        )
        self.hub.effects.work.spawn(self._tell_everyone(event))

    async def _tell_everyone(self, event: AccessEnded) -> None:
        msg = {
            "op": "withdraw", "reason": event.reason, "session_id": event.session_id,
            "invite_id": event.invite_id, "user_id": event.user_id,
        }  # fmt: skip
        with contextlib.suppress(ConnectionError):  # Redis down: nobody else to reach now
            await self.bus.broadcast(msg)

    async def watch(self) -> None:
        """Every beat: keep this node's rooms placed here; act on nodes that died."""
        while True:
            await asyncio.sleep(BEAT_S)
            # Redis away: the registry says so; the bridge waits for it like everyone.
            try:
                await self.check()
            except (RedisError, OSError):
                stop_if_cancelled()

    async def check(self) -> None:
        forgotten = await self.placement.hold(list(self.hub.live))
        if forgotten and self.hub.effects.keeper is not None:
            # Redis restarted empty: each room's state goes back with its placement, so the
            # room can still be taken over if this node dies before the room next changes.
            for sid in forgotten:
                live = self.hub.live.get(sid)
                if live is not None and not live.room.ended:
                    self.hub.effects.keeper.save(sid, live.room.snapshot())
        alive = {n.id for n in await self.registry.nodes()}
        known = {link.node for link in self.links.links.values()}
        known |= {remote.edge for remote in self.remotes.remotes.values()}
        # A killed node's subscription to the bus ends with its process (Redis sees the
        # connection close): gone from the bus on two beats in a row, it is dead, without
        # waiting for its registry entry to expire. (Not on one: after a Redis restart each
        # node needs a moment to subscribe again.)
        listening = await self.bus.listening(known)
        self._silent = {n: self._silent.get(n, 0) + 1 for n in known if not listening.get(n)}
        self._missing = {n: self._missing.get(n, 0) + 1 for n in known if n not in alive}
        dead = {n for n, beats in self._missing.items() if beats >= DEAD_AFTER_BEATS}
        dead |= {n for n, beats in self._silent.items() if beats >= 2}
        if dead:
            self.links.nodes_dead(dead)
            self.remotes.nodes_dead(dead)


BRIDGE = web.AppKey("bridge", Bridge)


async def bridge_ctx(app: web.Application) -> AsyncIterator[None]:
    if NODE not in app:
        yield
        return
    court, registry = app[COURT], app[NODE]
    bridge = Bridge(app[HUB], registry, app[SETTINGS].cluster_name)
    bridge.on_drain = _terminate
    app[BRIDGE] = bridge
    app[ROUTER] = bridge
    court.signals.register(ACCESS_ENDED, bridge.access_ended)
    rooms = RoomStore(registry.redis, app[SETTINGS].cluster_name)
    app[HUB].effects.keeper = rooms
    supervisor = app[SUPERVISOR]
    supervisor.start("node-rooms", rooms.run)
    supervisor.start("node-bus", bridge.bus.run)
    try:
        await asyncio.wait_for(bridge.bus.ready.wait(), SUBSCRIBE_TIMEOUT_S)
    except TimeoutError:
        await supervisor.stop_task("node-bus")
        raise ClusterConfigError("could not subscribe to the cluster's Redis") from None
    supervisor.start("node-bridge", bridge.watch)
    try:
        yield
    finally:
        await bridge.remotes.close()
        await rooms.flush()
        await supervisor.stop_task("node-rooms")
        await supervisor.stop_task("node-bridge")
        await supervisor.stop_task("node-bus")


def _terminate() -> None:
    """Stop this process as SIGTERM does: leave the registry, send everyone to reconnect
    (their rooms are placed again on other nodes), seal, exit."""
    os.kill(os.getpid(), signal.SIGTERM)


async def going_away(app: web.Application) -> None:
    """``on_shutdown``: every browser bridged from here to another node reconnects."""
    bridge = app.get(BRIDGE)
    if bridge is not None:
        bridge.links.close()
