"""Carrying out what a room decided: messages to sockets, media moves in the SFU, closes.

The room (``signaling.rooms``) is pure: it returns effects, and the hub has them applied here
under the session's lock. Work that must finish even when the socket handler that started it
is cancelled (freeing a peer connection) runs shielded; ``pending`` holds it, and whatever the
hub runs in the background, until shutdown waits for it.
"""

from __future__ import annotations

from server.tasks import Background
from signaling.conn import CLOSE_CODES, Conn
from signaling.events import DocumentShown, GuestCaucusDecided
from signaling.listeners import Listeners
from signaling.live import Live, MediaServer, RoomKeeper
from signaling.places import tell_moves
from signaling.rooms import CaucusDecided, Close, Effect, Place, Roster, Send, Shown
from signaling.server_messages import Bye


class Effects:
    """The SFU, the listeners and the background work of one hub."""

    def __init__(self, sfu: MediaServer, listeners: Listeners) -> None:
        self.sfu = sfu
        self.listeners = listeners
        # Shutdown waits for it: a take-down that was cut short would leak its UDP sockets.
        self.work = Background("a room's effects")
        self.keeper: RoomKeeper | None = None  # a cluster keeps each room's state after a change

    def room_key(self, session_id: int, place: str | None) -> str | None:
        return None if place is None else self.listeners.room(session_id, place)

    async def release(self, conn: Conn) -> None:
        if conn.peer_id:
            peer, conn.peer_id = conn.peer_id, ""
            # Closing a peer connection must finish even when the socket's handler is being
            # cancelled, or its UDP sockets leak; close() waits for these.
            await self.work.shielded(self.sfu.remove_peer(peer))
            self.listeners.forget_peer(peer)

    async def apply(self, live: Live, effects: list[Effect]) -> None:
        roster = False
        moves: list[Place] = []
        # Taken down after the other effects: everyone's goodbye and close are on their way
        # before anyone's peer connection is taken down, which awaits aiortc's close and the
        # renegotiation of whoever stays. (An "end" once told the last participant only after
        # every other's take-down; a socket closed after its own take-down stayed open 15 s
        # behind a slow one on a loaded CI machine.)
        leaving: list[Conn] = []
        for effect in effects:
            if isinstance(effect, Roster):
                roster = True
            elif isinstance(effect, Send):
                if (c := live.conns.get(effect.pid)) is not None:
                    c.send(effect.message)
            elif isinstance(effect, Place):
                moves.append(effect)
                c = live.conns.get(effect.pid)
                if c is not None and c.peer_id:
                    await self.sfu.set_room(c.peer_id, self.room_key(live.session_id, effect.place))
            elif isinstance(effect, Shown) and (who := live.people.get(effect.pid)):
                audience = tuple(live.people[p] for p in effect.audience if p in live.people)
                self.listeners.document_shown(
                    DocumentShown(live.session_id, effect.document_id, who, effect.place, audience)
                )
            elif isinstance(effect, CaucusDecided) and (who := live.people.get(effect.pid)):
                by = live.people[effect.by]
                self.listeners.guest_caucus(
                    GuestCaucusDecided(live.session_id, who, effect.allow, by)
                )
            elif isinstance(effect, Close) and (c := live.conns.pop(effect.pid, None)):
                c.send(Bye(reason=effect.reason))
                c.close(CLOSE_CODES[effect.reason])  # once the goodbye has been written
                leaving.append(c)
        for c in leaving:
            await self.release(c)
        if roster:
            for pid, c in live.conns.items():
                if pid in live.room.members:
                    c.send_state(live.room.view(pid))
        tell_moves(live, moves, self.listeners)
        if self.keeper is not None and not live.room.ended:
            self.keeper.save(live.session_id, live.room.snapshot())
