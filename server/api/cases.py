"""The docket JSON API: ``/api/v1/cases`` and below.

Search, register, read and change cases, assign people, move a case through the stages
(``POST /cases/{id}/transitions``; an illegal move is a 409 naming the allowed ones), and the
fast-track overdue and due-soon lists. Parties and consents are in ``server.api.parties``.
Every handler reaches a case through ``server.api.case_paths`` (another office's case is a
404) and changes it only through ``server.docket``, with the request's context.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from server import docket
from server.api.case_paths import case_for_request
from server.api.registry import ApiRouter
from server.docket.schemas import (
    AssignIn,
    CaseCreate,
    CaseDetailOut,
    CaseFilters,
    CaseOut,
    CasePageOut,
    CaseUpdate,
    DocketEntryOut,
    TransitionIn,
)
from server.errors import parse_model
from server.models.docket import Case, Stage
from server.web.auth import require_user
from server.web.http import json_ok, read_json
from server.web.keys import CTX

api = ApiRouter("cases")


def dump(model: BaseModel) -> object:
    return model.model_dump(mode="json")


async def _detail(request: web.Request, case: Case, status: int = 200) -> web.Response:
    return json_ok(dump(await docket.case_detail(request[CTX], case)), status)


async def _case_list(request: web.Request, cases: list[Case]) -> web.Response:
    return json_ok([dump(c) for c in await docket.cases_out(request[CTX], cases)])


@api.route(
    "GET",
    "/cases",
    name="api_cases",
    summary="Search the docket (number, party name, cause) with filters and pages",
    query=CaseFilters,
    response=CasePageOut,
    errors=(422,),
)
async def list_cases(request: web.Request) -> web.Response:
    require_user(request)
    ctx = request[CTX]
    filters = parse_model(CaseFilters, dict(request.query))
    page = await docket.list_cases(ctx, filters)
    out = CasePageOut(
        items=await docket.cases_out(ctx, page.items),
        total=page.total,
        page=page.page,
        per_page=page.per_page,
        pages=page.pages,
    )
    return json_ok(dump(out))


@api.route(
    "POST",
    "/cases",
    name="api_case_create",
    summary="Register a case at intake, with its parties",
    body=CaseCreate,
    response=CaseDetailOut,
    status=201,
)
async def create_case(request: web.Request) -> web.Response:
    require_user(request)
    ctx = request[CTX]
    data = await read_json(request, CaseCreate)
    office_id = await docket.resolve_office(ctx, data.office)
    case = await docket.create_case(ctx, data, office_id=office_id)
    return await _detail(request, case, 201)


@api.route(
    "GET",
    "/cases/overdue",
    name="api_cases_overdue",
    summary="Fast-track cases past their 5-working-day deadline",
    response=CaseOut,
    response_list=True,
)
async def overdue(request: web.Request) -> web.Response:
    require_user(request)
    return await _case_list(request, await docket.overdue_cases(request[CTX]))


@api.route(
    "GET",
    "/cases/due-soon",
    name="api_cases_due_soon",
    summary="Fast-track cases due today or on the next working day",
    response=CaseOut,
    response_list=True,
)
async def due_soon(request: web.Request) -> web.Response:
    require_user(request)
    return await _case_list(request, await docket.due_soon_cases(request[CTX]))


@api.route(
    "GET",
    r"/cases/{case_id:\d+}",
    name="api_case",
    summary="One case with parties, consents, numbers, timeline and your allowed moves",
    response=CaseDetailOut,
    errors=(404,),
)
async def get_case(request: web.Request) -> web.Response:
    return await _detail(request, await case_for_request(request))


@api.route(
    "PATCH",
    r"/cases/{case_id:\d+}",
    name="api_case_update",
    summary="Change cause, facts or claim (send version to refuse overwriting a newer one)",
    body=CaseUpdate,
    response=CaseDetailOut,
    errors=(404, 409),
)
async def update_case(request: web.Request) -> web.Response:
    case = await case_for_request(request, edit=True)
    data = await read_json(request, CaseUpdate)
    return await _detail(request, await docket.update_case(request[CTX], case, data))


@api.route(
    "GET",
    r"/cases/{case_id:\d+}/timeline",
    name="api_case_timeline",
    summary="The case's docket entries, oldest first",
    response=DocketEntryOut,
    response_list=True,
    errors=(404,),
)
async def get_timeline(request: web.Request) -> web.Response:
    case = await case_for_request(request)
    entries = await docket.timeline(request[CTX], case)
    return json_ok([dump(docket.entry_out(e)) for e in entries])


@api.route(
    "POST",
    r"/cases/{case_id:\d+}/assignment",
    name="api_case_assign",
    summary="Assign the mediator, judge and clerk (omitted: unchanged; null: cleared)",
    body=AssignIn,
    response=CaseDetailOut,
    errors=(404,),
)
async def assign(request: web.Request) -> web.Response:
    case = await case_for_request(request)
    data = await read_json(request, AssignIn)
    clear = tuple(f.removesuffix("_id") for f in data.model_fields_set if getattr(data, f) is None)
    case = await docket.assign(
        request[CTX],
        case,
        mediator_id=data.mediator_id,
        judge_id=data.judge_id,
        clerk_id=data.clerk_id,
        clear=clear,
    )
    return await _detail(request, case)


@api.route(
    "POST",
    r"/cases/{case_id:\d+}/transitions",
    name="api_case_transition",
    summary="Move the case to another stage; 409 names the allowed stages",
    body=TransitionIn,
    response=CaseDetailOut,
    errors=(404, 409),
)
async def transition(request: web.Request) -> web.Response:
    case = await case_for_request(request)
    data = await read_json(request, TransitionIn)
    case = await docket.transition(request[CTX], case, Stage(data.to), note=data.note)
    return await _detail(request, case)
