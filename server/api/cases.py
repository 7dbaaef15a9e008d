"""The docket JSON API: ``/api/v1/cases`` and below.

Search, register, read and change cases, their parties and consents, assign people, move a
case through the stages (``POST /cases/{id}/transitions``; an illegal move is a 409 naming the
allowed ones), and the fast-track overdue and due-soon lists. Every handler reaches a case
through ``server.access.load_case_for`` (another office's case is a 404) and changes it only
through ``server.docket``.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web

from server import docket
from server.access import load_case_for
from server.api.registry import ApiRouter
from server.docket_schemas import (
    AssignIn,
    CaseCreate,
    CaseDetailOut,
    CaseFilters,
    CaseOut,
    CasePageOut,
    CaseUpdate,
    ConsentOut,
    DocketEntryOut,
    PartyOut,
    TransitionIn,
)
from server.errors import NotFound, parse_model
from server.models.accounts import Role, User
from server.models.docket import Case, Stage
from server.web.auth import require_user
from server.web.http import json_ok, read_json
from server.web.keys import CALENDAR, DB, SETTINGS

api = ApiRouter("cases")
_MAX_ID = 2_147_483_647


def path_id(request: web.Request, name: str) -> int:
    # The route only matches digits; an id beyond the column's range cannot exist.
    value = int(request.match_info[name])
    if value > _MAX_ID:
        raise NotFound(f"{name.removesuffix('_id')} {value} not found")
    return value


async def case_for_request(request: web.Request, user: User, *, edit: bool = False) -> Case:
    return await load_case_for(request[DB], user, path_id(request, "case_id"), edit=edit)


def _today(request: web.Request) -> date:
    return docket.local_today(request.app[SETTINGS].tz)


async def _detail(request: web.Request, user: User, case: Case) -> CaseDetailOut:
    db = request[DB]
    return docket.case_detail_out(
        case,
        user,
        await docket.latest_consents(db, case),
        await docket.timeline(db, case),
        await docket.case_numbers(db, case),
        today=_today(request),
    )


def dump(model: CaseDetailOut | CaseOut | PartyOut | ConsentOut | CasePageOut) -> object:
    return model.model_dump(mode="json")


async def _case_list(request: web.Request, user: User, cases: list[Case]) -> web.Response:
    consents = await docket.latest_consents_many(request[DB], [c.id for c in cases])
    today = _today(request)
    return json_ok([dump(docket.case_out(c, user, consents[c.id], today=today)) for c in cases])


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
    user = require_user(request)
    filters = parse_model(CaseFilters, dict(request.query))
    db = request[DB]
    today = _today(request)
    page = await docket.list_cases(db, user, filters, today=today)
    consents = await docket.latest_consents_many(db, [c.id for c in page.items])
    out = CasePageOut(
        items=[docket.case_out(c, user, consents[c.id], today=today) for c in page.items],
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
    user = require_user(request)
    data = await read_json(request, CaseCreate)
    db = request[DB]
    office_id = await docket.resolve_office(db, user, data.office)
    source = "office" if user.role == Role.OFFICE_STAFF else "court"
    case = await docket.create_case(
        db, user, data, office_id=office_id, source=source, request=request
    )
    return json_ok(dump(await _detail(request, user, case)), 201)


@api.route(
    "GET",
    "/cases/overdue",
    name="api_cases_overdue",
    summary="Fast-track cases past their 5-working-day deadline",
    response=CaseOut,
    response_list=True,
)
async def overdue(request: web.Request) -> web.Response:
    user = require_user(request)
    cases = await docket.overdue_cases(request[DB], user, _today(request))
    return await _case_list(request, user, cases)


@api.route(
    "GET",
    "/cases/due-soon",
    name="api_cases_due_soon",
    summary="Fast-track cases due today or on the next working day",
    response=CaseOut,
    response_list=True,
)
async def due_soon(request: web.Request) -> web.Response:
    user = require_user(request)
    cases = await docket.due_soon_cases(request[DB], user, _today(request), request.app[CALENDAR])
    return await _case_list(request, user, cases)


@api.route(
    "GET",
    r"/cases/{case_id:\d+}",
    name="api_case",
    summary="One case with parties, consents, numbers, timeline and your allowed moves",
    response=CaseDetailOut,
    errors=(404,),
)
async def get_case(request: web.Request) -> web.Response:
    user = require_user(request)
    case = await case_for_request(request, user)
    return json_ok(dump(await _detail(request, user, case)))


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
    user = require_user(request)
    case = await case_for_request(request, user, edit=True)
    data = await read_json(request, CaseUpdate)
    case = await docket.update_case(request[DB], user, case, data, request=request)
    return json_ok(dump(await _detail(request, user, case)))


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
    user = require_user(request)
    case = await case_for_request(request, user)
    entries = await docket.timeline(request[DB], case)
    return json_ok([docket.entry_out(e).model_dump(mode="json") for e in entries])


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
    user = require_user(request)
    case = await case_for_request(request, user)
    data = await read_json(request, AssignIn)
    clear = tuple(f.removesuffix("_id") for f in data.model_fields_set if getattr(data, f) is None)
    case = await docket.assign(
        request[DB],
        user,
        case,
        mediator_id=data.mediator_id,
        judge_id=data.judge_id,
        clerk_id=data.clerk_id,
        clear=clear,
        request=request,
    )
    return json_ok(dump(await _detail(request, user, case)))


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
    user = require_user(request)
    case = await case_for_request(request, user)
    data = await read_json(request, TransitionIn)
    case = await docket.transition(
        request[DB],
        user,
        case,
        Stage(data.to),
        note=data.note,
        calendar=request.app[CALENDAR],
        request=request,
    )
    return json_ok(dump(await _detail(request, user, case)))
