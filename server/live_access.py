"""When access is withdrawn, whoever is in a live room on it leaves at once.

Revoking an invite, cancelling or moving a booking, ending a session and deactivating an
account each decide who may no longer be in a live room; refusing the next connection is
not enough, the one open now must end too. The domain says so with the court's named signal
``access_ended`` after its commit (``Context.signal_after_commit``), carrying an
``AccessEnded``; the live side (``server.live``) listens and closes those connections with a
``bye`` naming the reason. Where no live rooms run (the CLI), the signal is a no-op and the
next connection is refused as before. Imports nothing of signaling: the live side adapts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from server.context import Context

ACCESS_ENDED = "access_ended"
Reason = Literal["revoked", "cancelled", "moved", "ended", "deactivated"]


@dataclass(frozen=True, slots=True)
class AccessEnded:
    """Whose live connections end, and why. ``session_id`` alone: everyone in that session;
    with ``invite_id``: whoever came in by that invite link; ``user_id``: that account's
    connections (in ``session_id`` only, when given)."""

    reason: Reason
    session_id: int | None = None
    invite_id: int | None = None
    user_id: int | None = None


def end_live_access(
    ctx: Context,
    reason: Reason,
    *,
    session_id: int | None = None,
    invite_id: int | None = None,
    user_id: int | None = None,
) -> None:
    """After this unit of work commits (never if it rolls back), end the live connections
    named; see ``AccessEnded``."""
    if session_id is None and invite_id is None and user_id is None:
        raise ValueError("name a session, an invite or a user")
    ended = AccessEnded(reason, session_id, invite_id, user_id)
    ctx.signal_after_commit(ACCESS_ENDED, ended)
