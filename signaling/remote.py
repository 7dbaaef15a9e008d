"""Both ends of the signal bridge: a browser's socket on one node, its room on another.

In a cluster a session's room lives on one node (chosen by load when it starts), while a
browser's WebSocket may land on any node. The node holding the socket (the *edge*) settles
who the caller is and checks every frame as it always does, then forwards each frame to the
room's node; the room's node serves the connection on its hub exactly as a local socket,
through a ``Conn`` whose socket (``RemoteSocket``) sends each outgoing frame back over the
bridge. The browser's protocol (``signaling/PROTOCOL.md``) is unchanged: it cannot tell. The
room's SFU makes the offers, so ICE and media go straight to the room's node.

What carries the messages between nodes is not this module's business: it is handed a
``send(node, message)`` (``server.cluster.bridge`` publishes on Redis) and is given what
arrives (``Links.receive`` on the edge, ``Remotes.receive`` on the room's node). Messages
are small JSON-able dicts: ``op`` and the bridge id ``b``, which names one connection.

- to the room's node: ``open`` (who, the session, the resume token), ``frame`` (``f``: one
  checked frame from the browser), ``leave`` (the socket closed; ``expel`` a flood);
- to the edge: ``send`` (``f``: one frame for the browser), ``close`` (``c``: its code).

When a node dies, the other end notices (``nodes_dead``): a browser whose room's node died
is sent away with 1001 and reconnects (the room is placed again); a connection whose edge
died leaves its room, keeping its place to resume like any dropped one.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from aiohttp import web

from signaling.browser_messages import parse_client
from signaling.conn import GOING_AWAY, Conn
from signaling.guests import Guest
from signaling.hub import Hub

Message = dict[str, Any]
Send = Callable[[str, Message], Awaitable[object]]  # returns how many listeners heard it
# After a Redis restart each node subscribes again within a beat or so; until then what is
# published to it reaches nobody. A frame is published again until its node hears it, for
# this long, then the connection is given up (it reconnects and resumes).
HEARD_WITHIN_S = 3.0


async def deliver(send: Send, node: str, msg: Message) -> None:
    """Publish ``msg`` to ``node`` until it is heard; ``ConnectionError`` if it is not
    within ``HEARD_WITHIN_S`` (the node died, or the bus is away)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HEARD_WITHIN_S
    while not await send(node, msg):
        if loop.time() > deadline:
            raise ConnectionError(f"node {node} is not listening")
        await asyncio.sleep(0.1)


class Link(Protocol):
    """The edge's handle on a connection whose room is on another node."""

    async def forward(self, data: str) -> None: ...
    async def close(self, *, expel: str | None = None) -> None: ...


class Router(Protocol):
    """Where a session's room is (``server.cluster.bridge.Bridge`` in a cluster)."""

    async def connect(
        self, session_id: int, conn: Conn, *, host_name: str, resume: str | None
    ) -> Link | None:
        """Join ``conn`` to the session's room on its node and return the link to it;
        ``None`` when the room is on this node (join the local hub)."""
        ...


ROUTER: web.AppKey[Router] = web.AppKey("signaling_router")


# --- the edge: this node's sockets whose rooms are elsewhere ------------------------------


@dataclass(eq=False)
class _Link:
    bridge: str
    node: str  # the room's node
    conn: Conn
    send: Send
    closed: bool = False

    async def forward(self, data: str) -> None:
        if self.closed:
            return
        try:
            await deliver(self.send, self.node, {"op": "frame", "b": self.bridge, "f": data})
        except ConnectionError:
            # This message cannot reach the room, and the page must not go on as if it had
            # (an answer to an offer lost leaves its media half set up): it reconnects and
            # resumes, in sync again.
            self.closed = True
            self.conn.close(GOING_AWAY)

    async def close(self, *, expel: str | None = None) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(ConnectionError):  # the room's node notices by itself
            await self.send(self.node, {"op": "leave", "b": self.bridge, "expel": expel})


class Links:
    """The edge side of the bridge (see the module docstring)."""

    def __init__(self, me: str, send: Send) -> None:
        self.me, self._send = me, send
        self.links: dict[str, _Link] = {}

    async def open(
        self, node: str, session_id: int, conn: Conn, *, host_name: str, resume: str | None
    ) -> Link:
        bridge = f"{self.me}/{uuid.uuid4().hex}"
        link = self.links[bridge] = _Link(bridge, node, conn, self._send)
        who = {
            "identity": conn.identity, "name": conn.name, "role": conn.role,
            "user_id": conn.user_id, "party_id": conn.party_id, "invite_id": conn.invite_id,
            "guest": asdict(conn.guest) if conn.guest is not None else None,
        }  # fmt: skip
        opening = {"op": "open", "b": bridge, "edge": self.me, "s": session_id, "who": who}
        try:
            heard = await self._send(node, {**opening, "host": host_name, "resume": resume})
            if heard == 0:  # nobody listens on that node's channel: it is gone
                raise ConnectionError(f"node {node} is not listening")
        except ConnectionError:
            del self.links[bridge]
            raise
        return _Forgetting(link, self.links)

    def receive(self, msg: Message) -> None:
        link = self.links.get(msg.get("b", ""))
        if link is None:
            return  # the socket closed meanwhile
        if msg["op"] == "send":
            link.conn.send_raw(msg["f"])
        elif msg["op"] == "close":
            link.conn.close(int(msg["c"]))

    def nodes_dead(self, dead: set[str]) -> None:
        """Send away (1001: reconnect) every browser whose room's node is gone."""
        for link in list(self.links.values()):
            if link.node in dead:
                link.closed = True
                link.conn.close(GOING_AWAY)

    def close(self) -> None:
        """Shutdown of this node: every bridged browser reconnects elsewhere."""
        for link in self.links.values():
            link.conn.close(GOING_AWAY)


@dataclass(eq=False)
class _Forgetting:
    """A link that leaves the edge's table when it closes."""

    link: _Link
    table: dict[str, _Link]

    async def forward(self, data: str) -> None:
        await self.link.forward(data)

    async def close(self, *, expel: str | None = None) -> None:
        self.table.pop(self.link.bridge, None)
        await self.link.close(expel=expel)


# --- the room's node: connections whose sockets are elsewhere ------------------------------


class RemoteSocket:
    """What a ``Conn`` on the room's node writes to: each frame goes back to the edge."""

    def __init__(self, edge: str, bridge: str, send: Send) -> None:
        self.edge, self.bridge, self._send = edge, bridge, send

    async def send_str(self, data: str) -> None:
        await deliver(self._send, self.edge, {"op": "send", "b": self.bridge, "f": data})

    async def close(self, *, code: int) -> bool:
        with contextlib.suppress(ConnectionError):
            await self._send(self.edge, {"op": "close", "b": self.bridge, "c": code})
        return True


@dataclass(eq=False)
class _Remote:
    conn: Conn
    edge: str
    session_id: int
    inbox: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


class Remotes:
    """The room's side of the bridge (see the module docstring). Each connection's frames
    are served in order by its own task, so one slow room never holds up another's."""

    def __init__(self, hub: Hub, send: Send) -> None:
        self.hub, self._send = hub, send
        self.remotes: dict[str, _Remote] = {}

    def receive(self, msg: Message) -> None:
        bridge = str(msg.get("b", ""))
        if msg["op"] == "open" and bridge not in self.remotes:
            self._open(bridge, msg)
            return
        remote = self.remotes.get(bridge)
        if remote is not None:
            remote.inbox.put_nowait(msg)

    def _open(self, bridge: str, msg: Message) -> None:
        who, edge = msg["who"], str(msg["edge"])
        conn = Conn(
            RemoteSocket(edge, bridge, self._send),
            identity=str(who["identity"]),
            name=str(who["name"]),
            role=who["role"],
            user_id=who["user_id"],
            party_id=who["party_id"],
            invite_id=who["invite_id"],
            guest=Guest(**who["guest"]) if who.get("guest") else None,
            clock=self.hub.clock,
        )
        remote = self.remotes[bridge] = _Remote(conn, edge, int(msg["s"]))
        remote.task = asyncio.create_task(self._serve(bridge, remote, msg))

    async def _serve(self, bridge: str, remote: _Remote, opening: Message) -> None:
        hub, conn, sid = self.hub, remote.conn, remote.session_id
        try:
            with conn.answering(sid):
                await hub.join(sid, conn, host_name=str(opening["host"]), resume=opening["resume"])
            # Until the edge says its socket closed (or died): a connection sent away here
            # still has its goodbye on the way, which stopping now would cut off.
            while True:
                msg = await remote.inbox.get()
                if msg["op"] == "leave":
                    if msg.get("expel") == "flood":
                        await hub.expel(sid, conn, "flood")
                    return
                conn.last_seen = hub.clock()
                with conn.answering(sid):
                    await hub.on_message(sid, conn, parse_client(msg["f"]))
        finally:
            self.remotes.pop(bridge, None)
            await hub.disconnect(sid, conn)

    def nodes_dead(self, dead: set[str]) -> None:
        """A connection whose edge is gone has dropped: it leaves (keeping its place)."""
        for remote in list(self.remotes.values()):
            if remote.edge in dead:
                remote.inbox.put_nowait({"op": "leave"})

    async def close(self, within: float = 2.0) -> None:
        """Shutdown, after the hub sent everyone away: each edge closes its browser's
        socket and says ``leave``; whoever has not within ``within`` seconds is left."""
        tasks = [r.task for r in self.remotes.values() if r.task is not None]
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=within)
        for remote in list(self.remotes.values()):
            remote.inbox.put_nowait({"op": "leave"})
        if pending:
            await asyncio.wait(pending, timeout=within)
