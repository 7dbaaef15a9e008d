"""Live sessions in this process: one ``Room`` per session, wired to WebSockets and the SFU.

The hub owns the only mutable live state. Per session, one lock serializes room changes; the
room (pure) decides, and ``signaling.effects`` carries out its effects: messages to sockets,
media moves in the SFU (``set_room``), closes; ``signaling.places`` tells who went where.
Each connection (``signaling.conn.Conn``) gets its own SFU peer, so a resumed participant
always starts a fresh peer connection.

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
from collections.abc import Callable
from typing import Any, Literal

from aiohttp import web

from signaling import places
from signaling import protocol as p
from signaling.browser_messages import Answer, ClientMessage, Hello, Media, Ping, Pong, View
from signaling.conn import CLOSE_CODES, GOING_AWAY, Conn
from signaling.effects import Effects
from signaling.events import Participant, RoomListener, SessionEnded
from signaling.limits import FrameLimit
from signaling.listeners import Listeners
from signaling.live import Live, MediaServer
from signaling.rooms import Member, Room
from signaling.server_messages import Ack, Bye, ByeReason, ServerPing, ServerPong, Welcome

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10
# No frame at all (the browser pings every HEARTBEAT_SECONDS) for this long: the socket is dead.
TIMEOUT_SECONDS = 3 * HEARTBEAT_SECONDS


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
        self.effects = Effects(sfu, self.listeners)
        self._beat: asyncio.Task[None] | None = None
        self.closed = False

    def add_listener(self, listener: RoomListener) -> None:
        """Tell ``listener`` what happens in the rooms from now on (add before ``start``)."""
        self.listeners.add(listener)

    def remove_listener(self, listener: RoomListener) -> None:
        self.listeners.remove(listener)

    def start(self) -> None:
        self._beat = asyncio.create_task(self._heartbeat())

    # --- joining, messages, leaving ------------------------------------------------------

    async def join(
        self, session_id: int, conn: Conn, *, host_name: str, resume: str | None
    ) -> bool:
        if self.closed:  # a handshake that finished after shutdown began: nothing to join
            conn.close(GOING_AWAY)
            return False
        live = self.live.get(session_id)
        if live is None:
            live = self.live[session_id] = Live(
                session_id, Room(host_name=host_name, clock=lambda: self.clock())
            )
        async with live.lock:
            if live.fresh:
                live.fresh = False
                keeper = self.effects.keeper
                snapshot = await keeper.load(session_id) if keeper is not None else None
                if snapshot is not None:  # a room another node held: taken over here
                    live.room.restore(snapshot)
            via = f"invite:{conn.invite_id}" if conn.invite_id is not None else conn.identity
            member, resumed, effects = live.room.join(
                conn.identity, conn.name, conn.role, resume, via=via, guest=conn.guest
            )
            conn.pid, conn.peer_id = member.pid, f"s{session_id}-{member.pid}"
            live.conns[member.pid] = conn
            who = Participant(
                member.pid, member.name, member.role, conn.user_id, conn.party_id,
                conn.guest.guest_id if conn.guest is not None else None,
            )  # fmt: skip
            live.people[member.pid] = who
            self.listeners.peer(conn.peer_id, session_id, who)
            conn.send(
                Welcome(
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
            await self.sfu.add_peer(conn.peer_id, on_offer=conn.on_offer, on_paused=conn.on_paused)
            await self.effects.apply(live, effects)
        return resumed

    async def on_message(self, session_id: int, conn: Conn, msg: ClientMessage) -> None:
        if isinstance(msg, Ping):
            conn.send(ServerPong(re=msg.id))
            return
        if isinstance(msg, Pong):
            return
        if isinstance(msg, Hello):
            raise p.ProtocolError(p.ALREADY_JOINED, "already joined", msg.id)
        live = self.live.get(session_id)
        if live is None or live.conns.get(conn.pid) is not conn:
            raise p.ProtocolError(p.NOT_JOINED, "not in this session", msg.id)
        if isinstance(msg, Answer):
            try:
                await self.sfu.handle_answer(conn.peer_id, msg.sdp)
            except Exception as exc:  # a stale or malformed answer must not drop the room
                raise p.ProtocolError(p.BAD_STATE, f"answer refused: {exc}", msg.id) from None
            return
        if isinstance(msg, View):
            # Media only: the room's state does not change, and nobody else is told.
            heights = {f"s{session_id}-{pid}": h for pid, h in msg.heights.items()}
            try:
                self.sfu.set_view(conn.peer_id, heights, msg.mode)
            except Exception as exc:  # its peer connection already gone (a reconnect)
                raise p.ProtocolError(p.BAD_STATE, f"view refused: {exc}", msg.id) from None
            if msg.id is not None:
                conn.send(Ack(re=msg.id))
            return
        # Shielded: a host's "end" closes their own socket while its effects on everyone
        # else are still being carried out, and aiohttp cancels the handler of a closed
        # socket; the others must still be told and closed.
        await self.effects.work.shielded(self._change(live, conn, msg))

    async def _change(self, live: Live, conn: Conn, msg: ClientMessage) -> None:
        async with live.lock:
            before = live.room.members.get(conn.pid)
            # A browser that answered the screen m-line with no track may not have named its
            # SSRC (Firefox); a fresh offer once sharing starts lets the answer name it.
            sharing = isinstance(msg, Media) and msg.screen and not (before and before.screen)
            effects = live.room.handle(conn.pid, msg)
            if live.room.ended:
                # Recorded as ended before anyone is told, so a quick rejoin is refused.
                await self._finish(live, conn)
            if msg.id is not None:
                conn.send(Ack(re=msg.id))
            await self.effects.apply(live, effects)
            if isinstance(msg, Media) and conn.peer_id:
                self.sfu.set_screen(conn.peer_id, msg.screen)
            if sharing and conn.peer_id:
                await self.sfu.renegotiate(conn.peer_id)

    async def disconnect(self, session_id: int, conn: Conn) -> None:
        """The socket closed, for whatever reason: free its peer, keep its place a while.

        aiohttp cancels a handler whose client went away; this must still run to the end
        (or the room never learns of the drop), so it runs shielded and ``close`` waits."""
        await self.effects.work.shielded(self._disconnect(session_id, conn))

    async def _disconnect(self, session_id: int, conn: Conn) -> None:
        live = self.live.get(session_id)
        if live is not None:
            async with live.lock:
                if live.conns.get(conn.pid) is conn:
                    del live.conns[conn.pid]
                    await self.effects.release(conn)
                    await self.effects.apply(live, live.room.drop(conn.pid))
        await self.effects.release(conn)
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
            await self.effects.apply(live, effects)

    async def expel(self, session_id: int, conn: Conn, reason: ByeReason) -> None:
        """Send one connection away with ``reason``: the room forgets its participant."""
        live = self.live.get(session_id)
        if live is None:
            return
        async with live.lock:
            if live.conns.get(conn.pid) is conn:
                await self.effects.apply(live, live.room.expel(conn.pid, reason))

    def withdraw(
        self,
        reason: ByeReason,
        *,
        session_id: int | None = None,
        invite_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        """Access was withdrawn (called after the change committed, from synchronous code):
        end the connections named, with ``reason``. ``session_id`` alone names everyone in
        that session (``ended`` and ``cancelled`` end the live session itself); with
        ``invite_id`` whoever came by that invite link; with ``user_id`` that account's."""
        self.effects.work.spawn(self._withdraw(reason, session_id, invite_id, user_id))

    async def _withdraw(
        self,
        reason: ByeReason,
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
                    await self.effects.apply(live, effects)
        except Exception:  # run as a task: nobody else would hear of it
            log.exception("ending live access (%s) failed", reason)

    async def _finish(self, live: Live, by: Conn | None) -> None:
        self.live.pop(live.session_id, None)
        if self.effects.keeper is not None:
            self.effects.keeper.save(live.session_id, None)
        self.listeners.forget_rooms(live.session_id)
        await self.listeners.session_ended(
            SessionEnded(live.session_id, by.user_id if by is not None else None)
        )

    # --- RoomControl ---------------------------------------------------------------------

    def set_recorded(
        self, session_id: int, *, main: bool, caucus: bool, alarm: str | None = None
    ) -> None:
        """See ``signaling.events.RoomControl.set_recorded``."""
        live = self.live.get(session_id)
        if live is not None:
            places.set_recorded(live, main=main, caucus=caucus, alarm=alarm)

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
                        c.send(Bye(reason="timeout"))
                        c.close(CLOSE_CODES["timeout"])
                    else:
                        c.send(ServerPing())
                await self.effects.apply(live, live.room.expire())
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
        self.closed = True
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
        for live in list(self.live.values()):
            for c in list(live.conns.values()):
                await self.effects.release(c)
                c.close(GOING_AWAY)
        self.live.clear()
        await self.effects.work.wait()


def _named(member: Member, invite_id: int | None, user_id: int | None) -> bool:
    """Whether a member (connected, or dropped and keeping their place) is one whose access
    ended: come in by that invite link, or that account. A dropped one is forgotten too, so
    the resume token a closed tab left in the browser opens nothing."""
    if invite_id is not None:
        return member.via == f"invite:{invite_id}"
    return user_id is not None and member.identity == f"user:{user_id}"


HUB: web.AppKey[Hub] = web.AppKey("signaling_hub")
