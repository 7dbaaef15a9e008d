"""The live rooms' side of the case file: a document the host shows to a room
(``document.show``) is recorded in the database (``server.docket.documents.record_showing``):
who saw it, audited, and from then on each party who was there may open it through their
own link. Registered with the hub by ``server.live``.
"""

from __future__ import annotations

import logging

from server.docket import documents
from server.live_beside import BesideTheRoom
from signaling.events import DocumentShown

log = logging.getLogger(__name__)


class DocumentShowings(BesideTheRoom):
    def on_document_shown(self, event: DocumentShown) -> None:
        self.beside(self._record(event))

    async def _record(self, event: DocumentShown) -> None:
        parties = [p.party_id for p in event.audience if p.party_id is not None]
        try:
            async with self.as_host(event.by.user_id) as ctx:
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
