"""Live sessions: the signaling protocol, rooms (lobby, main, caucus), the hub wiring them to
WebSockets, and the pass-through SFU (``signaling.sfu``).

``setup(app)`` adds the WebSocket endpoint and one SFU and one hub for the app's lifetime;
on shutdown every socket and every peer connection is closed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from server.appkeys import SESSIONMAKER, SETTINGS
from server.models.accounts import User
from server.models.sessions import MediationSession
from server.sessions import LIVE_STATUSES, end_session
from signaling.hub import HUB, Conn, Hub


async def _hub_ctx(app: web.Application) -> AsyncIterator[None]:
    from signaling.sfu import Sfu

    settings = app[SETTINGS]
    sfu = Sfu(ice_servers=settings.ice_servers, max_video_kbps=settings.max_video_kbps)

    async def on_end(session_id: int, by: Conn | None) -> None:
        # The host ended it from the room: record it like the API does.
        if by is None:
            return
        async with app[SESSIONMAKER]() as db:
            session = await db.get(MediationSession, session_id)
            user = await db.get(User, by.user_id) if by.user_id else None
            if session is not None and session.status in LIVE_STATUSES:
                await end_session(db, user, session)
                await db.commit()

    hub = Hub(sfu, ice_servers=settings.ice_servers, on_end=on_end)
    app[HUB] = hub
    hub.start()
    yield
    await hub.close()
    await sfu.close()


def setup(app: web.Application) -> None:
    from signaling.ws import setup_routes

    app.cleanup_ctx.append(_hub_ctx)
    setup_routes(app)
