"""The docket JSON API for a case's parties and their consent to mediate:
``/api/v1/cases/{id}/parties`` and ``/api/v1/cases/{id}/consents`` (registered by
``server.api.cases.setup``)."""

from __future__ import annotations

from aiohttp import web

from server import docket
from server.access import can_see_identity
from server.api.cases import case_for_request, dump, path_id
from server.api.registry import ApiRouter
from server.docket_schemas import ConsentIn, ConsentOut, PartyIn, PartyOut, PartyUpdate
from server.web.auth import require_user
from server.web.http import json_ok, read_json
from server.web.keys import DB

api = ApiRouter("cases")


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
    user = require_user(request)
    case = await case_for_request(request, user, edit=True)
    data = await read_json(request, PartyIn)
    db = request[DB]
    party = await docket.add_party(db, user, case, data, request=request)
    out = docket.party_out(
        party, await docket.latest_consents(db, case), unmasked=can_see_identity(user, case)
    )
    return json_ok(dump(out), 201)


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
    user = require_user(request)
    case = await case_for_request(request, user, edit=True)
    data = await read_json(request, PartyUpdate)
    db = request[DB]
    party = await docket.update_party(
        db, user, case, path_id(request, "party_id"), data, request=request
    )
    out = docket.party_out(
        party, await docket.latest_consents(db, case), unmasked=can_see_identity(user, case)
    )
    return json_ok(dump(out))


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
    user = require_user(request)
    case = await case_for_request(request, user)
    data = await read_json(request, ConsentIn)
    row = await docket.record_consent(
        request[DB], user, case, data.party_id, data.consents, data.note, request=request
    )
    out = ConsentOut(
        id=row.id,
        party_id=row.party_id,
        consents=row.consents,
        note=row.note,
        recorded_at=row.recorded_at,
        recorded_by_id=row.recorded_by_id,
    )
    return json_ok(dump(out), 201)
