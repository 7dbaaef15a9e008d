"""JSON API for the guests of joint mediation (联调) of a session: invite one (their link is
made with them), list them. A guest's link is revoked as any link is
(``DELETE /sessions/{id}/invites/{invite_id}``). The rules are in ``server.guests``; a link
is shown only to who may hand it out (``access.can_invite_guests``).
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from server.api.registry import ApiRouter
from server.api.sessions import InviteOut, invite_out, session_of
from server.bounds import RowId
from server.guests import create_guest, list_guests
from server.models.sessions import GuestRole, Invite
from server.web.http import json_ok, read_json
from server.web.keys import CTX

api = ApiRouter("guests")

GuestName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Organisation = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]


class GuestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: GuestName
    organisation: Organisation = Field(description="e.g. 平潭街司法所, 平潭派出所")
    role: GuestRole
    serves_party_id: RowId | None = Field(
        default=None, description="an interpreter's party: followed into caucus rooms"
    )
    may_caucus: bool = Field(default=False, description="whether they may enter caucus rooms")


class GuestOut(BaseModel):
    id: int
    session_id: int
    name: str
    organisation: str
    role: GuestRole
    serves_party_id: int | None
    may_caucus: bool
    invite: InviteOut = Field(description="the guest's link into the session")


def guest_out(request: web.Request, invite: Invite) -> dict[str, object]:
    g = invite.guest
    assert g is not None  # a guest's link (server.guests.list_guests)
    return {
        **GuestOut.model_construct(
            id=g.id,
            session_id=g.session_id,
            name=g.name,
            organisation=g.organisation,
            role=GuestRole(g.role),
            serves_party_id=g.serves_party_id,
            may_caucus=g.may_caucus,
        ).model_dump(mode="json", exclude={"invite"}),
        "invite": invite_out(request, invite),
    }


@api.route(
    "POST",
    r"/sessions/{session_id:\d+}/guests",
    name="api_guest_create",
    summary="Invite a guest of joint mediation (联调) to the session; their link comes with them",
    body=GuestIn,
    response=GuestOut,
    status=201,
    errors=(401, 403, 404, 409, 422),
)
async def create(request: web.Request) -> web.Response:
    session = await session_of(request)
    body = await read_json(request, GuestIn)
    _guest, invite, _url = await create_guest(request[CTX], session, **body.model_dump())
    return json_ok(guest_out(request, invite), 201)


@api.route(
    "GET",
    r"/sessions/{session_id:\d+}/guests",
    name="api_guests",
    summary="The session's guests of joint mediation, with their links",
    response=GuestOut,
    response_list=True,
    errors=(401, 404),
)
async def listing(request: web.Request) -> web.Response:
    session = await session_of(request)
    rows = await list_guests(request[CTX].db, session)
    return json_ok([guest_out(request, i) for i in rows])
