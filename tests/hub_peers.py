"""In-process participants of a real ``Hub``: each one's WebSocket ends in a stand-in for the
browser's end of the socket (the edge), which keeps every server message and has the
participant's real aiortc peer (``tests.sfu_peers.Client``) answer the SFU's offers. No HTTP,
no database: for tests of what the hub does, tells and emits."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from aiortc import MediaStreamTrack

from signaling.browser_messages import parse_client
from signaling.conn import Conn
from signaling.hub import Hub
from signaling.rooms import Role
from signaling.server_messages import Offer, parse_server
from signaling.sfu import SfuError
from tests.sfu_peers import Client


class BrowserSocket:
    """The browser's end of one participant's WebSocket."""

    def __init__(self, peer: HubPeer) -> None:
        self.peer = peer
        self.messages: list[Any] = []
        self.closed: int | None = None

    async def send_str(self, data: str) -> None:
        message = parse_server(data)
        self.messages.append(message)
        if isinstance(message, Offer):
            await self.peer.answer(message)

    async def close(self, *, code: int) -> None:
        self.closed = code


class HubPeer:
    """One participant: a connection to the hub and an aiortc peer publishing ``tracks``."""

    def __init__(
        self,
        hub: Hub,
        session_id: int,
        *,
        name: str,
        role: Role,
        user_id: int | None = None,
        party_id: int | None = None,
        tracks: list[MediaStreamTrack] = (),  # type: ignore[assignment]
    ) -> None:
        self.hub, self.session_id = hub, session_id
        self.socket = BrowserSocket(self)
        identity = f"user:{user_id}" if user_id is not None else f"party:{party_id}"
        self.conn = Conn(
            self.socket,  # type: ignore[arg-type]
            identity=identity,
            name=name,
            role=role,
            user_id=user_id,
            party_id=party_id,
            clock=hub.clock,
        )
        self.client = Client(hub.sfu, "", list(tracks))  # type: ignore[arg-type]

    @property
    def pid(self) -> str:
        return self.conn.pid

    @property
    def messages(self) -> list[Any]:
        return self.socket.messages

    async def join(self) -> None:
        await self.hub.join(self.session_id, self.conn, host_name="", resume=None)

    async def answer(self, offer: Offer) -> None:
        # The SFU's peer is this connection's; the client speaks the SFU's track names.
        self.client.id = self.conn.peer_id
        tracks = {mid: {"peer": t["pid"], "label": t["source"]} for mid, t in offer.tracks.items()}
        # The peer may have gone since the offer was sent: the hub refuses such a late answer.
        with contextlib.suppress(SfuError):
            await self.client.answer({"sdp": offer.sdp, "tracks": tracks})

    async def send(self, kind: str, **body: Any) -> None:
        """A message from the browser, as the WebSocket handler hands it to the hub."""
        message = parse_client(json.dumps({"v": 1, "type": kind, **body}))
        await self.hub.on_message(self.session_id, self.conn, message)

    async def close(self) -> None:
        await self.hub.disconnect(self.session_id, self.conn)
        await self.client.close()
