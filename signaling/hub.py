"""Live sessions in this process: one ``Room`` per session, wired to WebSockets and the SFU.

The hub owns the only mutable live state. Per session, one lock serializes room changes; the
room (pure) decides, and ``_apply`` carries out its effects: messages to sockets, media moves
in the SFU (``set_room``), closes. Each connection (``signaling.conn.Conn``) gets its own SFU
peer, so a resumed participant always starts a fresh peer connection.

What happens in the rooms goes to the listeners added with ``add_listener`` as the typed
events of ``signaling.events``; the hub is the ``RoomControl`` they may call back (the
recording indicator, keyframe requests).

Whoever loses their access while in a room (an invite revoked, the session ended, cancelled
or moved, an account deactivated) is sent away at once through ``withdraw``; a socket that
floods is sent away through ``expel``. Either way the room forgets them (no place is kept
to resume) and only they are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from aiohttp import web

from signaling import protocol as p
from signaling.conn import CLOSE_CODES, Conn
from signaling.events import Participant, PlaceChanged, RoomListener, SessionEnded
from signaling.limits import FrameLimit
from signaling.listeners import Listeners
from signaling.rooms import HOST, MAIN, Close, Effect, Member, Place, Room, Roster, Send

if TYPE_CHECKING:
    from signaling.sfu.media import MediaTap

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10
# No frame at all (the browser pings every HEARTBEAT_SECONDS) for this long: the socket is dead.
TIMEOUT_SECONDS = 3 * HEARTBEAT_SECONDS


class MediaServer(Protocol):
    """What the hub needs of ``signaling.sfu.Sfu``."""

    async def add_peer(
        self,
        peer_id: str,
        *,
        on_offer: Callable[[dict[str, Any]], Awaitable[None]],
        on_state: Callable[[str], Awaitable[None]] | None = None,
    ) -> None: ...

    async def handle_answer(self, peer_id: str, sdp: str) -> None: ...
    async def set_room(self, peer_id: str, room: str | None) -> None: ...
    async def remove_peer(self, peer_id: str) -> None: ...
    async def renegotiate(self, peer_id: str) -> None: ...
    def set_screen(self, peer_id: str, sharing: bool) -> None: ...
    def add_tap(self, tap: MediaTap) -> None: ...
    def request_keyframes(self, peer_ids: Iterable[str]) -> None: ...


@dataclass
class Live:
    session_id: int
    room: Room
    conns: dict[str, Conn] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Who each participant is and where their media is, as the listeners were last told.
    people: dict[str, Participant] = field(default_factory=dict)
    where: dict[str, str | None] = field(default_factory=dict)
    recorded: tuple[bool, bool] | None = None  # (main, caucus rooms); None: nobody said


class Hub:
    """Implements ``signaling.events.RoomControl``."""

    def __init__(
        self,
        sfu: MediaServer,
        *,
        ice_servers: list[dict[str, Any]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sfu = sfu
        self.ice_servers = ice_servers
        self.clock = clock
        self.frame_limit = FrameLimit()  # per socket (``signaling.limits``)
        self.live: dict[int, Live] = {}
        self.listeners = Listeners()
        sfu.add_tap(self.listeners)
        self._beat: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Future[None]] = set()

    def add_listener(self, listener: RoomListener) -> None:
        """Tell ``listener`` what happens in the rooms from now on (add before ``start``)."""
        self.listeners.add(listener)

    def remove_listener(self, listener: RoomListener) -> None:
        self.listeners.remove(listener)

    def start(self) -> None:
        self._beat = asyncio.create_task(self._heartbeat())

    def room_key(self, session_id: int, place: str | None) -> str | None:
        return None if place is None else self.listeners.room(session_id, place)

    # --- joining, messages, leaving ------------------------------------------------------

    async def join(
        self, session_id: int, conn: Conn, *, host_name: str, resume: str | None
    ) -> bool:
        live = self.live.get(session_id)
        if live is None:
            live = self.live[session_id] = Live(
                session_id, Room(host_name=host_name, clock=lambda: self.clock())
            )
        async with live.lock:
            via = f"invite:{conn.invite_id}" if conn.invite_id is not None else conn.identity
            member, resumed, effects = live.room.join(
                conn.identity, conn.name, conn.role, resume, via=via
            )
            conn.pid, conn.peer_id = member.pid, f"s{session_id}-{member.pid}"
            live.conns[member.pid] = conn
            who = Participant(member.pid, member.name, member.role, conn.user_id, conn.party_id)
            live.people[member.pid] = who
            self.listeners.peer(conn.peer_id, session_id, who)
            conn.send(
                p.Welcome(
                    pid=member.pid,
                    role=member.role,
                    name=member.name,
                    place=member.place,
                    resumed=resumed,
                    resume=member.resume,
                    resume_seconds=int(live.room.resume_seconds),
                    heartbeat_seconds=HEARTBEAT_SECONDS,
                    ice_servers=self.ice_servers,
                )
            )
            await self.sfu.add_peer(conn.peer_id, on_offer=conn.on_offer)
            await self._apply(live, effects)
        return resumed

    async def on_message(self, session_id: int, conn: Conn, msg: p.ClientMessage) -> None:
        if isinstance(msg, p.Ping):
            conn.send(p.ServerPong(re=msg.id))
            return
        if isinstance(msg, p.Pong):
            return
        if isinstance(msg, p.Hello):
            raise p.ProtocolError(p.ALREADY_JOINED, "already joined", msg.id)
        live = self.live.get(session_id)
        if live is None or live.conns.get(conn.pid) is not conn:
            raise p.ProtocolError(p.NOT_JOINED, "not in this session", msg.id)
        if isinstance(msg, p.Answer):
            try:
                await self.sfu.handle_answer(conn.peer_id, msg.sdp)
            except Exception as exc:  # a stale or malformed answer must not drop the room
                raise p.ProtocolError(p.BAD_STATE, f"answer refused: {exc}", msg.id) from None
            return
        async with live.lock:
            before = live.room.members.get(conn.pid)
            # A browser that answered the screen m-line with no track may not have named its
            # SSRC (Firefox); a fresh offer once sharing starts lets the answer name it.
            sharing = isinstance(msg, p.Media) and msg.screen and not (before and before.screen)
            effects = live.room.handle(conn.pid, msg)
            if live.room.ended:
                # Recorded as ended before anyone is told, so a quick rejoin is refused.
                await self._finish(live, conn)
            if msg.id is not None:
                conn.send(p.Ack(re=msg.id))
            await self._apply(live, effects)
            if isinstance(msg, p.Media) and conn.peer_id:
                self.sfu.set_screen(conn.peer_id, msg.screen)
            if sharing and conn.peer_id:
                await self.sfu.renegotiate(conn.peer_id)

    async def disconnect(self, session_id: int, conn: Conn) -> None:
        """The socket closed, for whatever reason: free its peer, keep its place a while.

        aiohttp cancels a handler whose client went away; this must still run to the end
        (or the room never learns of the drop), so it runs shielded and ``close`` waits."""
        await self._shielded(self._disconnect(session_id, conn))

    async def _shielded(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        await asyncio.shield(task)

    async def _disconnect(self, session_id: int, conn: Conn) -> None:
        live = self.live.get(session_id)
        if live is not None:
            async with live.lock:
                if live.conns.get(conn.pid) is conn:
                    del live.conns[conn.pid]
                    await self._release(conn)
                    await self._apply(live, live.room.drop(conn.pid))
        await self._release(conn)
        await conn.stop()

    async def end(self, session_id: int, reason: Literal["ended", "cancelled"] = "ended") -> None:
        """End a live session from outside (the API): everyone is told and closed."""
        live = self.live.get(session_id)
        if live is None:
            return
        async with live.lock:
            if self.live.get(session_id) is not live:
                return  # ended while this waited for the lock
            effects = live.room.end(reason)
            await self._finish(live, None)
            await self._apply(live, effects)

    async def expel(self, session_id: int, conn: Conn, reason: p.ByeReason) -> None:
        """Send one connection away with ``reason``: the room forgets its participant."""
        live = self.live.get(session_id)
        if live is None:
            return
        async with live.lock:
            if live.conns.get(conn.pid) is conn:
                await self._apply(live, live.room.expel(conn.pid, reason))

    def withdraw(
        self,
        reason: p.ByeReason,
        *,
        session_id: int | None = None,
        invite_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        """Access was withdrawn (called after the change committed, from synchronous code):
        end the connections named, with ``reason``. ``session_id`` alone names everyone in
        that session (``ended`` and ``cancelled`` end the live session itself); with
        ``invite_id`` whoever came by that invite link; with ``user_id`` that account's."""
        task = asyncio.ensure_future(self._withdraw(reason, session_id, invite_id, user_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _withdraw(
        self,
        reason: p.ByeReason,
        session_id: int | None,
        invite_id: int | None,
        user_id: int | None,
    ) -> None:
        try:
            whole = invite_id is None and user_id is None
            if whole and session_id is not None and reason in ("ended", "cancelled"):
                await self.end(session_id, "cancelled" if reason == "cancelled" else "ended")
                return
            for live in list(self.live.values()):
                if session_id is not None and live.session_id != session_id:
                    continue
                async with live.lock:
                    gone = [
                        m.pid
                        for m in live.room.members.values()
                        if whole or _named(m, invite_id, user_id)
                    ]
                    effects = [e for pid in gone for e in live.room.expel(pid, reason)]
                    await self._apply(live, effects)
        except Exception:  # run as a task: nobody else would hear of it
            log.exception("ending live access (%s) failed", reason)

    async def _finish(self, live: Live, by: Conn | None) -> None:
        self.live.pop(live.session_id, None)
        self.listeners.forget_rooms(live.session_id)
        await self.listeners.session_ended(
            SessionEnded(live.session_id, by.user_id if by is not None else None)
        )

    # --- effects -------------------------------------------------------------------------

    async def _release(self, conn: Conn) -> None:
        if conn.peer_id:
            peer, conn.peer_id = conn.peer_id, ""
            # Closing a peer connection must finish even when the socket's handler is being
            # cancelled, or its UDP sockets leak; close() waits for these.
            await self._shielded(self.sfu.remove_peer(peer))
            self.listeners.forget_peer(peer)

    async def _apply(self, live: Live, effects: list[Effect]) -> None:
        roster = False
        moves: list[Place] = []
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
            elif isinstance(effect, Close) and (c := live.conns.pop(effect.pid, None)):
                c.send(p.Bye(reason=effect.reason))
                await self._release(c)
                c.close(CLOSE_CODES[effect.reason])
        if roster:
            for pid, c in live.conns.items():
                if pid in live.room.members:
                    c.send_state(live.room.view(pid))
        self._moved(live, moves)

    def _moved(self, live: Live, moves: list[Place]) -> None:
        """Tell each one who moved whether their new place is recorded, and the listeners
        where they went; then say goodbye for those the room forgot."""
        for move in moves:
            who = live.people.get(move.pid)
            if who is None:
                continue
            previous, live.where[move.pid] = live.where.get(move.pid), move.place
            c = live.conns.get(move.pid)
            if c is not None and live.recorded is not None:
                c.send(p.Recording(active=_recorded(live.recorded, move.place)))
            self.listeners.place_changed(PlaceChanged(live.session_id, who, previous, move.place))
        for pid in [pid for pid in live.people if pid not in live.room.members]:
            who, previous = live.people.pop(pid), live.where.pop(pid, None)
            if previous is not None:  # e.g. replaced by their own new connection
                self.listeners.place_changed(PlaceChanged(live.session_id, who, previous, None))

    # --- RoomControl ---------------------------------------------------------------------

    def set_recorded(
        self, session_id: int, *, main: bool, caucus: bool, alarm: str | None = None
    ) -> None:
        """See ``signaling.events.RoomControl.set_recorded``."""
        live = self.live.get(session_id)
        if live is None:
            return
        before, live.recorded = live.recorded, (main, caucus)
        for pid, c in live.conns.items():
            member = live.room.members.get(pid)
            place = member.place if member is not None else None
            active = _recorded(live.recorded, place)
            if before is None or active != _recorded(before, place):
                c.send(p.Recording(active=active))
        if alarm is not None:
            for pid, c in live.conns.items():
                member = live.room.members.get(pid)
                if member is not None and member.role == HOST:
                    c.send(p.Error(code="recording_stopped", message=alarm))

    def request_keyframe(self, session_id: int, pid: str) -> None:
        """See ``signaling.events.RoomControl.request_keyframe``."""
        live = self.live.get(session_id)
        c = live.conns.get(pid) if live is not None else None
        if c is not None and c.peer_id:
            self.sfu.request_keyframes([c.peer_id])

    # --- heartbeats ----------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await self.beat()
            except Exception:  # one bad session must not stop heartbeats for the others
                log.exception("heartbeat failed")

    async def beat(self) -> None:
        """Ping every socket, close the silent ones, forget who stayed away too long."""
        now = self.clock()
        for live in list(self.live.values()):
            async with live.lock:
                for c in list(live.conns.values()):
                    if now - c.last_seen > TIMEOUT_SECONDS:
                        c.send(p.Bye(reason="timeout"))
                        c.close(CLOSE_CODES["timeout"])
                    else:
                        c.send(p.ServerPing())
                await self._apply(live, live.room.expire())
                if not live.room.members:
                    self.live.pop(live.session_id, None)
                    self.listeners.forget_rooms(live.session_id)

    def stats(self) -> dict[str, int]:
        return {
            "sessions": len(self.live),
            "connections": sum(len(live.conns) for live in self.live.values()),
        }

    async def close(self) -> None:
        """Shutdown: close every socket and every peer."""
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
        for live in list(self.live.values()):
            for c in list(live.conns.values()):
                await self._release(c)
                c.close(1001)
        self.live.clear()
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


def _named(member: Member, invite_id: int | None, user_id: int | None) -> bool:
    """Whether a member (connected, or dropped and keeping their place) is one whose access
    ended: come in by that invite link, or that account. A dropped one is forgotten too, so
    the resume token a closed tab left in the browser opens nothing."""
    if invite_id is not None:
        return member.via == f"invite:{invite_id}"
    return user_id is not None and member.identity == f"user:{user_id}"


def _recorded(recorded: tuple[bool, bool] | None, place: str | None) -> bool:
    """Whether ``place`` is recorded when (main, caucus rooms) are."""
    if recorded is None or place is None:
        return False
    main, caucus = recorded
    return main if place == MAIN else caucus


HUB: web.AppKey[Hub] = web.AppKey("signaling_hub")
