"""The session page's guests of joint mediation (联调): the "邀请联调人员" form and the list of
guests with their links. The rules are in ``server.guests``; the form takes what the API
takes (``server.api.guests.GuestIn``), a blank "serves" being none.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.access import can_invite_guests
from server.api.guests import GuestIn
from server.api.sessions import session_of
from server.guests import create_guest, list_guests
from server.models.accounts import User
from server.models.sessions import GuestRole, MediationSession
from server.sessions import invite_url
from server.web.http import read_form, see_other
from server.web.keys import CTX

ROLES = list(GuestRole)


async def guest_rows(
    request: web.Request, user: User, session: MediationSession
) -> list[tuple[Any, str | None]]:
    """The session's guests by their links, each with the URL for who may hand it out."""
    ctx = request[CTX]
    shown = can_invite_guests(user, session)
    return [
        (inv, invite_url(ctx.settings, inv) if shown else None)
        for inv in await list_guests(ctx.db, session)
    ]


async def guest_submit(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    blank = ("serves_party_id",) if await _blank(request) else ()
    form = await read_form(request, GuestIn, drop=blank)
    await create_guest(request[CTX], session, **form.model_dump())
    return see_other(f"/sessions/{session.id}")


async def _blank(request: web.Request) -> bool:
    """Whether the form's "serves" is left at "nobody" (the select's empty choice)."""
    return not str((await request.post()).get("serves_party_id", "")).strip()
