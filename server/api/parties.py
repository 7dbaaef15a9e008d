"""The docket JSON API for a case's parties and their consent to mediate:
``/api/v1/cases/{id}/parties`` and ``/api/v1/cases/{id}/consents``."""

from __future__ import annotations

from aiohttp import web

from server import docket
from server.access import can_see_identity
from server.api.case_paths import case_for_request
from server.api.registry import ApiRouter
from server.docket.schemas import ConsentIn, ConsentOut, PartyIn, PartyOut, PartyUpdate
from server.models.docket import Case, Party
from server.web.auth import require_user
from server.web.http import json_ok, read_json
from server.web.keys import CTX
from server.web.params import path_id

api = ApiRouter("cases")


async def _party(request: web.Request, case: Case, party: Party, status: int = 200) -> web.Response:
    ctx = request[CTX]
    unmasked = can_see_identity(require_user(request), case)
    out = docket.party_out(party, await docket.latest_consents(ctx, case), unmasked=unmasked)
    return json_ok(out.model_dump(mode="json"), status)


@api.route(
    "POST",
    r"/cases/{case_id:\d+}/parties",
    name="api_party_add",
    summary="Add a party (with its consent to mediate, if asked)",
    body=PartyIn,
    response=PartyOut,
    status=201,
    errors=(404,),
)
async def add_party(request: web.Request) -> web.Response:
    case = await case_for_request(request, edit=True)
    data = await read_json(request, PartyIn)
    party = await docket.add_party(request[CTX], case, data)
    return await _party(request, case, party, 201)


@api.route(
    "PATCH",
    r"/cases/{case_id:\d+}/parties/{party_id:\d+}",
    name="api_party_update",
    summary="Change a party's details",
    body=PartyUpdate,
    response=PartyOut,
    errors=(404,),
)
async def update_party(request: web.Request) -> web.Response:
    case = await case_for_request(request, edit=True)
    data = await read_json(request, PartyUpdate)
    party = await docket.update_party(request[CTX], case, path_id(request, "party_id"), data)
    return await _party(request, case, party)


@api.route(
    "POST",
    r"/cases/{case_id:\d+}/consents",
    name="api_consent_record",
    summary="Record a party's answer to 'do you agree to mediate?' (the latest answer counts)",
    body=ConsentIn,
    response=ConsentOut,
    status=201,
    errors=(404,),
)
async def record_consent(request: web.Request) -> web.Response:
    case = await case_for_request(request)
    data = await read_json(request, ConsentIn)
    row = await docket.record_consent(request[CTX], case, data.party_id, data.consents, data.note)
    out = ConsentOut(
        id=row.id,
        party_id=row.party_id,
        consents=row.consents,
        note=row.note,
        recorded_at=row.recorded_at,
        recorded_by_id=row.recorded_by_id,
    )
    return json_ok(out.model_dump(mode="json"), 201)
