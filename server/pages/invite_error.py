"""The page a party sees when their invite link does not work (not ours, withdrawn, expired,
its session over): the party chrome of ``base.html`` (the court, help, the help line), never
the staff menu or a log-in link, since whoever holds the link has no court account.
"""

from __future__ import annotations

from aiohttp import web

from server.errors import AppError
from server.sessions import genuine_invite
from server.web.errors import status_of, worded
from server.web.http import render
from server.web.keys import CTX


async def invite_error_page(
    request: web.Request, token: str, exc: AppError, *, status: int | None = None
) -> web.Response:
    """Say plainly that the link does not work and why; ``status`` overrides the error's own.
    The session is named for a genuine link that ran out, not for a withdrawn one: that may
    have been withdrawn because it reached the wrong person."""
    session = None
    if exc.code != "invite_revoked":
        try:
            session = (await genuine_invite(request[CTX], token)).session
        except AppError:
            session = None  # not a link we issued: no session to name
    status = status or status_of(exc)
    page = {
        "status": status,
        "code": exc.code,
        "message": worded(request, exc),
        "party_layout": True,
        "invite_session": session,
    }
    return render(request, "error.html", page, status=status)
