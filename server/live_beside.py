"""What the live rooms' listeners on the court's side share: a host's act in a room (showing a
document, deciding a guest's caucus) is kept in the database beside the room, never under
its lock, in a unit of work as that host; shutdown waits a moment for what is being kept,
then cancels what is left."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from server.context import Actor, Context, Court
from server.models.accounts import User
from server.tasks import Background
from signaling.events import RoomListener


class BesideTheRoom(RoomListener):
    def __init__(self, court: Court) -> None:
        self.court = court
        self.work = Background("keeping a host's act beside the room")

    def beside(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` beside the room (listeners are called under the session's lock)."""
        self.work.spawn(work)

    @contextlib.asynccontextmanager
    async def as_host(self, user_id: int | None) -> AsyncIterator[Context]:
        """A unit of work acting as the host who did it (the system if they are gone)."""
        async with self.court.unit() as ctx:
            host = await ctx.db.get(User, user_id) if user_id else None
            if host is not None:
                ctx.actor = Actor.for_user(host)
            yield ctx

    async def close(self) -> None:
        """Wait a moment for what is being kept, then cancel the rest (shutdown)."""
        await self.work.stop(grace=5)
