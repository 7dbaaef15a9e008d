"""One participant's WebSocket as the hub sees it: who is on it, and its outgoing queue.

Sending never waits on a browser: each socket has a bounded outgoing queue drained by its own
task, and a socket that falls that far behind is closed (it resumes like any dropped
participant).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from signaling import protocol as p
from signaling.rooms import Role

log = logging.getLogger(__name__)

OUT_QUEUE = 256
CLOSE_CODES = {"denied": 4003, "removed": 4004, "ended": 4005, "replaced": 4006,
               "timeout": 4008, "left": 1000}  # fmt: skip


class Conn:
    """One participant's WebSocket: who it is and its outgoing queue."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        *,
        identity: str,
        name: str,
        role: Role,
        user_id: int | None = None,
        party_id: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ws, self.identity, self.name, self.role = ws, identity, name, role
        self.user_id, self.party_id = user_id, party_id
        self.pid = ""
        self.peer_id = ""
        self.clock = clock
        self.last_seen = clock()
        self._out: asyncio.Queue[str | int] = asyncio.Queue(OUT_QUEUE)
        self._writer = asyncio.create_task(self._write_loop())

    def send(self, message: p._Out) -> None:
        self.send_raw(p.serialize(message))

    def send_raw(self, frame: str) -> None:
        try:
            self._out.put_nowait(frame)
        except asyncio.QueueFull:
            log.warning("closing %s: %d messages behind", self.pid, OUT_QUEUE)
            self._drain_and_close(CLOSE_CODES["timeout"])

    def close(self, code: int) -> None:
        """Close after what is queued has been sent."""
        try:
            self._out.put_nowait(code)
        except asyncio.QueueFull:
            self._drain_and_close(code)

    def _drain_and_close(self, code: int) -> None:
        while not self._out.empty():
            self._out.get_nowait()
        self._out.put_nowait(code)

    async def _write_loop(self) -> None:
        while True:
            item = await self._out.get()
            if isinstance(item, int):
                await self.ws.close(code=item)
                return
            try:
                await self.ws.send_str(item)
            except (ConnectionError, RuntimeError):
                return

    async def on_offer(self, offer: dict[str, Any]) -> None:
        # The SFU names publishers by peer id ("s<session>-<pid>"); browsers know pids.
        tracks = {
            str(mid): {"pid": str(info["peer"]).rsplit("-", 1)[-1], "source": str(info["label"])}
            for mid, info in (offer.get("tracks") or {}).items()
        }
        self.send(p.Offer(sdp=offer["sdp"], tracks=tracks))

    async def stop(self) -> None:
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
