"""Online reception over JSON: ``POST /api/v1/intake`` and ``GET /api/v1/intake/{code}``.

Both are public (no account). The POST needs no CSRF token: it accepts only
``application/json`` (``read_json`` refuses anything else with 415), which a foreign page
cannot send cross-site without a CORS preflight that this server never grants, so a
browser's ambient cookie cannot be abused through it. It is rate-limited per address like
the form.
"""

from __future__ import annotations

from aiohttp import web

from server.api.registry import ApiRouter
from server.docket import intake
from server.i18n import DEFAULT_LANG
from server.web.auth import csrf_exempt
from server.web.http import json_ok, read_json
from server.web.keys import CATALOGS, CTX, LANG

api = ApiRouter("intake")


@api.route(
    "POST",
    "/intake",
    name="api_intake_submit",
    summary="Submit a dispute (online reception); returns a tracking code",
    body=intake.IntakeIn,
    response=intake.IntakeReceipt,
    status=201,
    public=True,
    errors=(415, 429),
)
@csrf_exempt
async def submit(request: web.Request) -> web.Response:
    data = await read_json(request, intake.IntakeIn)
    case = await intake.submit(request[CTX], data)
    assert case.tracking_code is not None
    receipt = intake.IntakeReceipt(
        tracking_code=case.tracking_code,
        stage=case.stage,
        office=case.office.code,
        submitted_at=case.created_at,
    )
    return json_ok(receipt.model_dump(mode="json"), 201)


@api.route(
    "GET",
    "/intake/{code}",
    name="api_intake_status",
    summary="The progress of a submitted dispute, by tracking code (no party details)",
    response=intake.IntakeStatus,
    public=True,
    errors=(404, 429),
)
async def status(request: web.Request) -> web.Response:
    case = await intake.lookup(request[CTX], request.match_info["code"])
    lang = request.get(LANG, DEFAULT_LANG)
    out = intake.status_of(case, lang, request.app[CATALOGS].gettext(lang))
    return json_ok(out.model_dump(mode="json"))
