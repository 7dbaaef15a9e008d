"""JSON API for live sessions: open one for a case, list, invite parties, revoke, end.

The rules are in ``server.sessions`` and ``server.access``; this module only reads input and
shapes output. An invite's link is shown only to who may hold the parties' credentials
(``access.can_manage_invites``); everyone else who may see the session sees who is invited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from server.access import can_manage_invites, load_case_for
from server.api.registry import ApiRouter
from server.bounds import Moment, RowId
from server.models.sessions import Invite, MediationSession
from server.sessions import (
    create_invite,
    create_session,
    end_session,
    invite_of,
    invite_token,
    invite_url,
    list_invites,
    list_sessions,
    load_session_for,
    party_of,
    revoke_invite,
)
from server.web.auth import require_user
from server.web.http import json_ok, read_json
from server.web.keys import CTX, SETTINGS
from server.web.params import path_id
from signaling.hub import HUB

api = ApiRouter("sessions")


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["mediation", "hearing"] = "mediation"
    starts_at: Moment | None = None
    ends_at: Moment | None = None
    host_id: RowId | None = None
    record_caucus: bool = True


class SessionOut(BaseModel):
    id: int
    case_id: int
    kind: str
    status: str
    host_id: int | None
    office_id: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    opened_at: datetime | None
    ended_at: datetime | None
    record_caucus: bool
    join_path: str = Field(description="the staff join page (pre-join, lobby, room)")


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    party_id: RowId


class InviteOut(BaseModel):
    id: int
    session_id: int
    kind: Literal["party", "guest"] = Field(description="whom the link admits")
    party_id: int | None = Field(description="the party's; null for a guest's link")
    guest_id: int | None = Field(description="the guest's (joint mediation); null for a party's")
    party_name: str | None = Field(description="the party's name; null for a guest's link")
    url: str | None = Field(
        description="the party's link; null unless the caller may hand out the links"
    )
    token: str | None = Field(
        description="the link's token alone (what /api/v1/invites/{token}/... takes); null "
        "exactly when url is"
    )
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def session_out(s: MediationSession) -> dict[str, object]:
    return SessionOut(
        id=s.id,
        case_id=s.case_id,
        kind=s.kind,
        status=s.status,
        host_id=s.host_id,
        office_id=s.office_id,
        starts_at=s.starts_at,
        ends_at=s.ends_at,
        opened_at=s.opened_at,
        ended_at=s.ended_at,
        record_caucus=s.record_caucus,
        join_path=f"/sessions/{s.id}/join",
    ).model_dump(mode="json")


async def session_of(request: web.Request) -> MediationSession:
    """The session the path names, if the logged-in user may see it (401, else 404)."""
    require_user(request)
    return await load_session_for(request[CTX], path_id(request, "session_id"))


def invite_out(request: web.Request, inv: Invite) -> dict[str, object]:
    shown = can_manage_invites(require_user(request), inv.session)
    settings = request.app[SETTINGS]
    return InviteOut(
        id=inv.id,
        session_id=inv.session_id,
        kind="guest" if inv.guest_id is not None else "party",
        party_id=inv.party_id,
        guest_id=inv.guest_id,
        party_name=inv.party.name if inv.party is not None else None,
        url=invite_url(settings, inv) if shown else None,
        token=invite_token(settings, inv) if shown else None,
        created_at=inv.created_at,
        expires_at=inv.expires_at,
        revoked_at=inv.revoked_at,
        last_used_at=inv.last_used_at,
    ).model_dump(mode="json")


@api.route(
    "POST",
    r"/cases/{case_id:\d+}/sessions",
    name="api_session_create",
    summary="Open a live session for a case",
    body=SessionIn,
    response=SessionOut,
    status=201,
    errors=(401, 403, 404, 422),
)
async def create(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await read_json(request, SessionIn)
    ctx = request[CTX]
    case = await load_case_for(ctx.db, user, path_id(request, "case_id"))
    session = await create_session(
        ctx,
        case,
        kind=body.kind,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        host_id=body.host_id,
        record_caucus=body.record_caucus,
    )
    return json_ok(session_out(session), 201)


@api.route(
    "GET",
    r"/cases/{case_id:\d+}/sessions",
    name="api_case_sessions",
    summary="A case's sessions, newest first",
    response=SessionOut,
    response_list=True,
    errors=(401, 404),
)
async def list_for_case(request: web.Request) -> web.Response:
    user = require_user(request)
    ctx = request[CTX]
    case = await load_case_for(ctx.db, user, path_id(request, "case_id"))
    return json_ok([session_out(s) for s in await list_sessions(ctx, case)])


@api.route(
    "GET",
    r"/sessions/{session_id:\d+}",
    name="api_session",
    summary="One session",
    response=SessionOut,
    errors=(401, 404),
)
async def get_one(request: web.Request) -> web.Response:
    return json_ok(session_out(await session_of(request)))


@api.route(
    "POST",
    r"/sessions/{session_id:\d+}/invites",
    name="api_invite_create",
    summary="Create an invite link for one party of the session's case",
    body=InviteIn,
    response=InviteOut,
    status=201,
    errors=(401, 403, 404, 409, 422),
)
async def invite(request: web.Request) -> web.Response:
    require_user(request)
    body = await read_json(request, InviteIn)
    session = await session_of(request)
    row, _url = await create_invite(request[CTX], session, party_of(session, body.party_id))
    return json_ok(invite_out(request, row), 201)


@api.route(
    "GET",
    r"/sessions/{session_id:\d+}/invites",
    name="api_invites",
    summary="A session's invite links",
    response=InviteOut,
    response_list=True,
    errors=(401, 404),
)
async def invites(request: web.Request) -> web.Response:
    session = await session_of(request)
    return json_ok([invite_out(request, i) for i in await list_invites(request[CTX], session)])


@api.route(
    "DELETE",
    r"/sessions/{session_id:\d+}/invites/{invite_id:\d+}",
    name="api_invite_revoke",
    summary="Revoke an invite link",
    response=InviteOut,
    errors=(401, 403, 404),
)
async def revoke(request: web.Request) -> web.Response:
    session = await session_of(request)
    ctx = request[CTX]
    row = await invite_of(ctx, session, path_id(request, "invite_id"))
    await revoke_invite(ctx, row)
    return json_ok(invite_out(request, row))


@api.route(
    "POST",
    r"/sessions/{session_id:\d+}/end",
    name="api_session_end",
    summary="End a session: everyone in it is disconnected, its links stop working",
    response=SessionOut,
    errors=(401, 403, 404, 409),
)
async def end(request: web.Request) -> web.Response:
    session = await session_of(request)
    await end_session(request[CTX], session, rooms=request.app.get(HUB))
    return json_ok(session_out(session))
