"""Live sessions: the signaling protocol (``signaling.protocol``), rooms (lobby, main, caucus),
the hub wiring them to WebSockets (``signaling.hub``, ``signaling.ws``), the pass-through SFU
(``signaling.sfu``), and the typed interface through which others watch and steer the rooms
(``signaling.events``). ``server.live`` builds and wires them for the app's lifetime.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any


async def _hub_ctx(app: Any) -> AsyncIterator[None]:
    # TRANSITIONAL, delete with ``recordings._lifetime``: server/app.py's ``_add_live`` still
    # appends this; it should append ``server.live.live_ctx`` itself.
    from server.live import live_ctx

    async for _ in live_ctx(app):
        yield
