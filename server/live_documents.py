"""The live rooms' side of the case file: a document the host shows to a room
(``document.show``) is recorded in the database (``server.docket.documents.record_showing``):
who saw it, audited, and from then on each party who was there may open it through their
own link. Registered with the hub by ``server.live``.
"""

from __future__ import annotations

import asyncio
import logging

from server.context import Actor, Court
from server.docket import documents
from server.models.accounts import User
from signaling.events import DocumentShown, RoomListener

log = logging.getLogger(__name__)


class DocumentShowings(RoomListener):
    def __init__(self, court: Court) -> None:
        self.court = court
        self.tasks: set[asyncio.Task[None]] = set()

    def on_document_shown(self, event: DocumentShown) -> None:
        # Called under the session's lock: the database work runs beside the room.
        task = asyncio.get_running_loop().create_task(self._record(event))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _record(self, event: DocumentShown) -> None:
        parties = [p.party_id for p in event.audience if p.party_id is not None]
        try:
            async with self.court.unit() as ctx:
                host = await ctx.db.get(User, event.by.user_id) if event.by.user_id else None
                if host is not None:
                    ctx.actor = Actor.for_user(host)
                row = await documents.record_showing(
                    ctx, event.session_id, event.document_id, event.room, parties
                )
            if row is None:
                log.warning(
                    "session %s: document %s is not of its case; not shown to anyone",
                    event.session_id, event.document_id,
                )  # fmt: skip
        except Exception:
            log.exception("recording that document %s was shown failed", event.document_id)

    async def close(self) -> None:
        """Wait for the showings being recorded (shutdown)."""
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=5)
