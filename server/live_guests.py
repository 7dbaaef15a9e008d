"""The live rooms' side of joint mediation: the host's decision in the room on whether a
guest may enter caucus rooms (``guest.caucus``) is kept in the database
(``server.guests.set_may_caucus``, audited), so it holds when the guest connects again after
the room forgot them. Registered with the hub by ``server.live``.
"""

from __future__ import annotations

import logging

from server.guests import set_may_caucus
from server.live_beside import BesideTheRoom
from signaling.events import GuestCaucusDecided

log = logging.getLogger(__name__)


class GuestDecisions(BesideTheRoom):
    def on_guest_caucus(self, event: GuestCaucusDecided) -> None:
        self.beside(self._keep(event))

    async def _keep(self, event: GuestCaucusDecided) -> None:
        guest_id = event.participant.guest_id
        if guest_id is None:
            return
        try:
            async with self.as_host(event.by.user_id) as ctx:
                await set_may_caucus(ctx, guest_id, event.allow)
        except Exception:
            log.exception("keeping the host's caucus decision on guest %s failed", guest_id)
