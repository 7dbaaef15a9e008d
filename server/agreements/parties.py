"""A party's way to the agreement: their invite link. The session may be over by the time
the last party signs ("through their invite link"), so a link whose session has ended still
opens the agreement, as long as the link itself is genuine, not withdrawn and not expired;
everything else is ``server.sessions.verify_invite``'s answer.
"""

from __future__ import annotations

import hmac

from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import AppError, Forbidden, Unauthorized
from server.models.base import utcnow
from server.models.sessions import Invite
from server.settings import Settings


async def invite_for_agreement(db: AsyncSession, settings: Settings, token: str) -> Invite:
    from server.sessions import parse_invite_token, verify_invite

    try:
        return await verify_invite(db, settings, token)
    except AppError as exc:
        if exc.code != "session_ended":
            raise
    invite_id, nonce = parse_invite_token(settings, token)
    invite = await db.get(Invite, invite_id)
    if invite is None or not hmac.compare_digest(invite.nonce, nonce):
        raise Unauthorized("this invitation link is not valid", code="invite_invalid")
    if invite.revoked_at is not None:
        raise Forbidden("this invitation link has been withdrawn", code="invite_revoked")
    if invite.expires_at <= utcnow():
        raise Forbidden("this invitation link has expired", code="invite_expired")
    return invite
