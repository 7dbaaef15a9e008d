"""One live session as the hub holds it, and what the hub needs of the media server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from signaling.conn import Conn
from signaling.events import Participant
from signaling.rooms import Room

if TYPE_CHECKING:
    from signaling.sfu.media import MediaTap


class MediaServer(Protocol):
    """What the hub needs of ``signaling.sfu.Sfu``."""

    async def add_peer(
        self,
        peer_id: str,
        *,
        on_offer: Callable[[dict[str, Any]], Awaitable[None]],
        on_state: Callable[[str], Awaitable[None]] | None = None,
        on_paused: Callable[[list[str]], None] | None = None,
    ) -> None: ...

    async def handle_answer(self, peer_id: str, sdp: str) -> None: ...
    async def set_room(self, peer_id: str, room: str | None) -> None: ...
    async def remove_peer(self, peer_id: str) -> None: ...
    async def renegotiate(self, peer_id: str) -> None: ...
    def set_screen(self, peer_id: str, sharing: bool) -> None: ...
    def set_view(self, peer_id: str, heights: dict[str, int], mode: str) -> None: ...
    def add_tap(self, tap: MediaTap) -> None: ...
    def request_keyframes(self, peer_ids: Iterable[str]) -> None: ...
    def forwarded_streams(self) -> int: ...


class RoomKeeper(Protocol):
    """Where a cluster keeps each room's last state (``Room.snapshot``) so that another node
    can take the room over (``server.cluster.roomstate``); a single server has none."""

    def save(self, session_id: int, snapshot: dict[str, Any] | None) -> None:
        """The room's state now (``None``: the session ended, forget it); never waits."""
        ...

    async def load(self, session_id: int) -> dict[str, Any] | None: ...


@dataclass
class Live:
    """A session's room, its sockets by pid and the lock that serializes its changes."""

    session_id: int
    room: Room
    conns: dict[str, Conn] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Who each participant is and where their media is, as the listeners were last told.
    people: dict[str, Participant] = field(default_factory=dict)
    where: dict[str, str | None] = field(default_factory=dict)
    recorded: tuple[bool, bool] | None = None  # (main, caucus rooms); None: nobody said
    # Not yet looked for in the cluster's keeper (a room another node held, to take over).
    fresh: bool = True
