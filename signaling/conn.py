"""One participant's WebSocket as the hub sees it: who is on it, and its outgoing queue.

Sending never waits on a browser: each socket has a bounded outgoing queue drained by its own
task. The roster (``state``) is sent after every change, so it is never queued twice: a
newer one replaces the one still waiting, and one person's toggles cannot fill anyone's
queue. A socket that still falls ``OUT_QUEUE`` messages behind (it does not read) is cut off
at once (its TCP connection aborted: a close frame would wait behind what it does not read)
and resumes like any dropped participant; nobody else is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from signaling import protocol as p
from signaling.guests import Guest
from signaling.rooms import Role
from signaling.server_messages import (
    ByeReason,
    Offer,
    Outgoing,
    State,
    VideoPaused,
    error,
    serialize,
)

log = logging.getLogger(__name__)

OUT_QUEUE = 256
STOP_RETRY_S = 0.5  # stop() cancels the writer again after this long
CLOSE_CODES: dict[ByeReason, int] = {
    "denied": 4003, "removed": 4004, "ended": 4005, "replaced": 4006, "timeout": 4008,
    "left": 1000, "revoked": 4010, "cancelled": 4011, "moved": 4012, "deactivated": 4013,
    "flood": 4029,
}  # fmt: skip
# Far behind and no way to cut the connection (a stand-in socket): closed with this.
BEHIND = 4009
# The server is shutting down (the page reconnects to the restarted server).
GOING_AWAY = 1001


class Socket(Protocol):
    """Where a connection's frames go: the browser's WebSocket (``aiohttp``'s response), or,
    for a browser connected to another node of a cluster, the bridge back to that node."""

    async def send_str(self, data: str) -> None: ...
    async def close(self, *, code: int) -> bool: ...


class _Roster:
    """The place in a queue of the latest roster (``Conn.pending_state``)."""


_ROSTER = _Roster()


class Conn:
    """One participant's WebSocket: who it is and its outgoing queue."""

    def __init__(
        self,
        ws: Socket,
        *,
        identity: str,
        name: str,
        role: Role,
        user_id: int | None = None,
        party_id: int | None = None,
        invite_id: int | None = None,
        guest: Guest | None = None,
        clock: Callable[[], float] = time.monotonic,
        abort: Callable[[], None] | None = None,
    ) -> None:
        self.ws, self.identity, self.name, self.role = ws, identity, name, role
        self.user_id, self.party_id, self.invite_id = user_id, party_id, invite_id
        self.guest = guest
        self.pid = ""
        self.peer_id = ""
        self.clock = clock
        self.last_seen = clock()
        self.closing = False  # a close is queued (or the socket was cut): nothing more to do
        self.pending_state: str | None = None
        self._abort = abort
        self._out: asyncio.Queue[str | int | _Roster] = asyncio.Queue(OUT_QUEUE)
        self._writer = asyncio.create_task(self._write_loop())

    def send(self, message: Outgoing) -> None:
        self.send_raw(serialize(message))

    def send_state(self, state: State) -> None:
        """Send the roster; if one is still queued, it goes out as this one instead."""
        frame = serialize(state)
        if self.pending_state is not None:
            self.pending_state = frame
            return
        self.pending_state = frame
        self._put(_ROSTER)

    def send_raw(self, frame: str) -> None:
        self._put(frame)

    def _put(self, item: str | _Roster) -> None:
        if self.closing:
            return
        try:
            self._out.put_nowait(item)
        except asyncio.QueueFull:
            self._behind()

    def _behind(self) -> None:
        log.warning("cutting off %s: %d messages behind", self.pid or self.identity, OUT_QUEUE)
        self.closing = True
        while not self._out.empty():
            self._out.get_nowait()
        self.pending_state = None
        if self._abort is not None:
            self._abort()  # the handler's read loop ends, and the hub drops this socket
        else:
            self._out.put_nowait(BEHIND)

    def close(self, code: int) -> None:
        """Close after what is queued has been sent."""
        if self.closing:
            return
        try:
            self._out.put_nowait(code)
        except asyncio.QueueFull:
            self._behind()
        self.closing = True

    async def _write_loop(self) -> None:
        while True:
            item = await self._out.get()
            if isinstance(item, int):
                await self.ws.close(code=item)
                return
            frame = item if isinstance(item, str) else self.pending_state
            if isinstance(item, _Roster):
                self.pending_state = None
            if frame is None:
                continue
            try:
                await self.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                return

    @contextlib.contextmanager
    def answering(self, session_id: int) -> Iterator[None]:
        """Around the handling of one frame from this participant: a refused frame is
        answered with an ``error`` and the socket stays up. A fault of ours must not end
        the socket either: it is logged with its traceback and the sender hears
        ``internal``."""
        try:
            yield
        except p.ProtocolError as exc:
            self.send_raw(error(exc))
        except Exception:
            log.exception("signaling message failed in session %s", session_id)
            self.send_raw(error(p.ProtocolError(p.INTERNAL, "the server failed")))

    async def on_offer(self, offer: dict[str, Any]) -> None:
        # The SFU names publishers by peer id ("s<session>-<pid>"); browsers know pids.
        tracks = {
            str(mid): {"pid": str(info["peer"]).rsplit("-", 1)[-1], "source": str(info["label"])}
            for mid, info in (offer.get("tracks") or {}).items()
        }
        self.send(Offer(sdp=offer["sdp"], tracks=tracks))

    def on_paused(self, peer_ids: list[str]) -> None:
        self.send(VideoPaused(pids=[peer.rsplit("-", 1)[-1] for peer in peer_ids]))

    async def stop(self) -> None:
        """End the writer. A cancellation that lands inside the socket's send can be
        swallowed there, and the writer would then wait for a message that never comes (a
        CI run hung on it, in the shutdown of a live server): it is cancelled again until
        it ends, each time now where it waits."""
        self.closing = True
        while not self._writer.done():
            self._writer.cancel()
            await asyncio.wait({self._writer}, timeout=STOP_RETRY_S)
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
