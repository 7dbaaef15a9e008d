"""Pages for live sessions: open one from a case, the session page (invite links, guests,
end), and the session app page (pre-join self-test, lobby, room) for staff and, by invite
link, parties and guests of joint mediation.

The app page is one page with three screens, so the camera and microphone that passed the
self-test carry straight into the lobby and the room; ``web/static/js/session.js`` drives it.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from server.access import (
    can_end_session,
    can_manage_invites,
    can_view_documents,
    is_host,
    load_case_for,
)
from server.api.sessions import session_of
from server.bounds import RowId
from server.docket import documents
from server.errors import AppError, Unauthorized
from server.models.accounts import User
from server.models.recordings import Recording
from server.models.sessions import MediationSession
from server.pages import desk_pages, guest_pages
from server.pages.invite_error import invite_error_page
from server.pages.room_strings import room_strings
from server.sessions import (
    LIVE_STATUSES,
    create_invite,
    create_session,
    end_session,
    invite_of,
    invite_url,
    list_invites,
    list_sessions,
    party_links,
    party_of,
    revoke_invite,
    verify_invite,
)
from server.web.auth import require_user
from server.web.http import read_form, render, see_other
from server.web.keys import CTX, USER
from server.web.params import path_id
from signaling.hub import HUB


class OpenForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["mediation", "hearing"] = "mediation"


class InviteForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    party_id: RowId


async def _recording_config(
    request: web.Request, session: MediationSession, *, is_party: bool
) -> dict[str, Any]:
    """Where the host starts and stops recording, whether it is on now (no row yet: on, as
    every session is recorded from its start), and a standing alarm (the client shows it to
    the host only; a party is not given the server's error text)."""
    rec = await request[CTX].db.scalar(select(Recording).where(Recording.session_id == session.id))
    return {
        "api": f"/api/v1/sessions/{session.id}/recording",
        "active": rec.active if rec is not None else True,
        "alarm": rec.alarm if rec is not None and not is_party else None,
    }


async def _app_page(
    request: web.Request,
    session: MediationSession,
    *,
    ws_url: str,
    is_party: bool,
    resume_key: str,
    documents_base: str,
    probe_url: str,
    is_guest: bool = False,
) -> web.Response:
    """The session app. ``resume_key`` names the link's identity (a party's invite, a staff
    account) under which the browser keeps its resume token (``web/static/js/rejoin.js``), so
    only the same link in the same browser gets a closed tab's place back. A guest of joint
    mediation (``is_guest``) comes by a link as a party does, but gets neither the case
    file nor the agreement (their link opens neither)."""
    host = await request[CTX].db.get(User, session.host_id) if session.host_id else None
    ctx: dict[str, Any] = {
        "session": session,
        "case": session.case,
        "host_name": host.display_name if host else "",
        "is_party": is_party,
        "is_guest": is_guest,
        # By a party's link with no court login: the party chrome (base.html), no staff menu.
        "party_layout": is_party and request.get(USER) is None,
        "config": {
            "ws": ws_url,
            "session": session.id,
            "party": is_party,
            "guest": is_guest,
            "resume_key": resume_key,
            "probe": probe_url,
            "strings": room_strings(request),
            "recording": await _recording_config(request, session, is_party=is_party),
            "documents": {
                "base": documents_base,
                "choices": None if is_party else await _documents_to_show(request, session),
            },
        },
    }
    # A call from a street office's terminal (the duty desk): its registration panel.
    ctx["desk_call"] = await desk_pages.call_panel(request, session)
    return render(request, "session_room.html", ctx)


async def _documents_to_show(
    request: web.Request, session: MediationSession
) -> list[dict[str, Any]] | None:
    """What the host may show the room: the case file's documents (kept ones), newest first
    (the room's page asks for the list again as parties add to it); None for anyone else."""
    user = request.get(USER)
    case = session.case
    if user is None or not is_host(user, session) or not can_view_documents(user, case):
        return None
    docs = await documents.documents_of(request[CTX], case)
    return [{"id": d.id, "label": d.title or d.filename} for d in docs if d.purged_at is None]


async def open_from_case(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    ctx = request[CTX]
    case = await load_case_for(ctx.db, user, path_id(request, "case_id"))
    form = await read_form(request, OpenForm)
    session = await create_session(ctx, case, kind=form.kind)
    return see_other(f"/sessions/{session.id}")


async def case_sessions(request: web.Request) -> web.Response:
    user = require_user(request)
    ctx = request[CTX]
    case = await load_case_for(ctx.db, user, path_id(request, "case_id"))
    return render(
        request, "session_list.html", {"case": case, "sessions": await list_sessions(ctx, case)}
    )


async def session_page(request: web.Request) -> web.Response:
    user = require_user(request)
    ctx = request[CTX]
    session = await session_of(request)
    # Who is invited is shown to all who may see the session; the links only to their holders.
    shown = can_manage_invites(user, session)
    invites = [
        (inv, invite_url(ctx.settings, inv) if shown else None)
        for inv, _party in party_links(await list_invites(ctx, session))
    ]
    return render(
        request,
        "session_detail.html",
        {
            "session": session,
            "case": session.case,
            "invites": invites,
            "guests": await guest_pages.guest_rows(request, user, session),
            "guest_roles": guest_pages.ROLES,
            "can_end": can_end_session(user, session),
            "live": session.status in LIVE_STATUSES,
        },
    )


async def invite_submit(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    form = await read_form(request, InviteForm)
    await create_invite(request[CTX], session, party_of(session, form.party_id))
    return see_other(f"/sessions/{session.id}")


async def revoke_submit(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    ctx = request[CTX]
    await revoke_invite(ctx, await invite_of(ctx, session, path_id(request, "invite_id")))
    return see_other(f"/sessions/{session.id}")


async def end_submit(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    await end_session(request[CTX], session, rooms=request.app.get(HUB))
    return see_other(f"/sessions/{session.id}")


async def staff_join(request: web.Request) -> web.Response:
    user = require_user(request)
    session = await session_of(request)
    if session.status not in LIVE_STATUSES:
        raise AppError("this session has ended", code="session_ended")
    return await _app_page(
        request,
        session,
        ws_url=f"/ws/sessions/{session.id}",
        is_party=False,
        resume_key=f"{session.id}.user.{user.id}",
        documents_base=f"/api/v1/cases/{session.case_id}/documents",
        probe_url=f"/api/v1/sessions/{session.id}/probe",
    )


async def party_join(request: web.Request) -> web.Response:
    """The invite link: no account, straight to the pre-join page of that one session."""
    token = request.match_info["token"]
    try:
        invite = await verify_invite(request[CTX], token)
    except AppError as exc:
        # Not a login matter: say plainly that the link does not work (no redirect to login).
        status = 404 if isinstance(exc, Unauthorized) else None
        return await invite_error_page(request, token, exc, status=status)
    guest = invite.guest_id is not None
    return await _app_page(
        request,
        invite.session,
        ws_url=f"/ws/sessions/{invite.session_id}?invite={token}",
        is_party=True,
        resume_key=f"{invite.session_id}.invite.{invite.id}",
        documents_base="" if guest else f"/api/v1/invites/{token}/documents",
        probe_url=f"/api/v1/invites/{token}/probe",
        is_guest=guest,
    )
