"""The duty desk's JSON API: the roster (``/api/v1/desk/roster``) and the calls
(``/api/v1/desk/calls``): an office terminal places one, the center answers it, and during
the call it becomes the resident's intake case or joins a case on the docket. The ringing
itself reaches the browsers over ``/ws/desk`` (``server.web.desk_socket``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from server import access, bounds
from server.api.registry import ApiRouter
from server.bounds import Day, RowId
from server.context import Context
from server.desk import calls, roster
from server.desk.intake import AttachIn, CallIntakeIn, attach, register_case
from server.docket.schemas import Phone
from server.errors import Forbidden, Invalid, parse_model
from server.models.accounts import User
from server.models.desk import DeskCall
from server.web.auth import require_user
from server.web.http import json_ok, read_json
from server.web.keys import CTX, LANG
from server.web.params import path_id

api = ApiRouter("desk")
M = TypeVar("M", bound=BaseModel)
CALL = r"/desk/calls/{call_id:\d+}"
MAX_ROSTER_DAYS = 31


class DutyPerson(BaseModel):
    id: int
    name: str
    role: str


class HalfDayOut(BaseModel):
    day: date
    half: str = Field(description="am | pm")
    workday: bool
    people: list[DutyPerson] = Field(description="in the order they are rung")


class RosterQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: Day | None = Field(None, description="first day; default today")
    days: int = Field(7, ge=1, le=MAX_ROSTER_DAYS)


class RosterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_ids: list[RowId] = Field(max_length=roster.MAX_ON_DUTY, description="in ring order")


class CallOut(BaseModel):
    id: int
    office: str
    office_name: str
    status: str = Field(description="ringing | answered | ended | missed | cancelled")
    called_at: datetime
    queue_position: int = Field(description="1: next to be answered; 0: not waiting")
    answered_at: datetime | None
    answered_by: str | None
    ended_at: datetime | None
    session_id: int | None
    case_id: int | None
    outcome: str | None = Field(description="case | attached | advice")
    callback_phone: str | None
    callback_note: str
    callback_requested_at: datetime | None
    called_back_at: datetime | None


class CallbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    phone: Phone = Field("", description="a number the center calls back")
    note: str = Field("", max_length=255)


class CallsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    day: Day | None = Field(None, description="the court's day; default today")


def person(user: User) -> DutyPerson:
    return DutyPerson(id=user.id, name=user.display_name, role=user.role)


async def call_out(ctx: Context, call: DeskCall, lang: str = "zh") -> dict[str, object]:
    answerer = await ctx.db.get(User, call.answered_by_id) if call.answered_by_id else None
    return CallOut(
        id=call.id, office=call.office.code, office_name=call.office.name(lang),
        status=call.status, called_at=call.called_at,
        queue_position=await calls.queue_position(ctx, call), answered_at=call.answered_at,
        answered_by=answerer.display_name if answerer else None, ended_at=call.ended_at,
        session_id=call.session_id, case_id=call.case_id, outcome=call.outcome,
        callback_phone=call.callback_phone, callback_note=call.callback_note,
        callback_requested_at=call.callback_requested_at, called_back_at=call.called_back_at,
    ).model_dump(mode="json")  # fmt: skip


@api.route(
    "GET", "/desk/roster", name="api_desk_roster", query=RosterQuery,
    summary="Who is on duty each half-day, in ring order", response=HalfDayOut,
    response_list=True, errors=(401, 403, 422),
)  # fmt: skip
async def get_roster(request: web.Request) -> web.Response:
    if not access.can_view_roster(require_user(request)):
        raise Forbidden("the duty roster is the court's and the offices'", code="may_not_view")
    query = parse_model(RosterQuery, dict(request.query))
    ctx = request[CTX]
    start = query.start or ctx.today()
    found = await roster.roster_between(ctx, start, query.days)
    out = []
    for n in range(query.days):
        day = start + timedelta(days=n)
        for half in roster.HALVES:
            people = [person(u) for u in found.get((day, half), [])]
            workday = ctx.calendar.is_workday(day)
            out.append(HalfDayOut(day=day, half=half, workday=workday, people=people))
    return json_ok([h.model_dump(mode="json") for h in out])


@api.route(
    "PUT", r"/desk/roster/{day:\d{4}-\d{2}-\d{2}}/{half:am|pm}", name="api_desk_roster_set",
    body=RosterIn, summary="Put judges and mediators on duty for a half-day (in ring order)",
    response=HalfDayOut, errors=(400, 401, 403, 422),
)  # fmt: skip
async def set_roster(request: web.Request) -> web.Response:
    require_user(request)
    data = await read_json(request, RosterIn)
    day = bounds.day(request.match_info["day"])
    if day is None:
        raise Invalid("day: not a date of the court's calendar", code="bad_day")
    half = request.match_info["half"]
    ctx = request[CTX]
    people = await roster.set_duty(ctx, day, half, data.user_ids)
    out = HalfDayOut(day=day, half=half, workday=True, people=[person(u) for u in people])
    return json_ok(out.model_dump(mode="json"))


@api.route(
    "GET", "/desk/calls", name="api_desk_calls", query=CallsQuery,
    summary="A day's calls to the duty desk (an office's own; the court's every office's)",
    response=CallOut, response_list=True, errors=(401, 422),
)  # fmt: skip
async def list_calls(request: web.Request) -> web.Response:
    user = require_user(request)
    query = parse_model(CallsQuery, dict(request.query))
    ctx = request[CTX]
    day = query.day or ctx.today()
    start = datetime.combine(day, datetime.min.time(), ctx.tz)
    office = None if user.role in access.COURT_WIDE else user.office_id
    found = await calls.calls_between(ctx, start, start + timedelta(days=1), office)
    return json_ok(
        [await call_out(ctx, c, request[LANG]) for c in found if access.can_view_call(user, c)]
    )


@api.route(
    "POST", "/desk/calls", name="api_desk_call", summary="Call the center (an office terminal)",
    response=CallOut, status=201, errors=(401, 403),
)  # fmt: skip
async def place_call(request: web.Request) -> web.Response:
    require_user(request)
    ctx = request[CTX]
    return json_ok(await call_out(ctx, await calls.place_call(ctx), request[LANG]), 201)


@api.route(
    "GET", CALL, name="api_desk_call_get", summary="One call: its state and outcome",
    response=CallOut, errors=(401, 404),
)  # fmt: skip
async def get_call(request: web.Request) -> web.Response:
    ctx = request[CTX]
    call = await calls.get_call(ctx, path_id(request, "call_id", code="call_not_found"))
    return json_ok(await call_out(ctx, call, request[LANG]))


def _call_id(request: web.Request) -> int:
    require_user(request)
    return path_id(request, "call_id", code="call_not_found")


@api.route(
    "POST", CALL + "/accept", name="api_desk_call_accept",
    summary="Answer a ringing call (first to accept wins; 409 for the others)",
    response=CallOut, errors=(401, 403, 404, 409),
)  # fmt: skip
async def accept_call(request: web.Request) -> web.Response:
    ctx = request[CTX]
    return json_ok(await call_out(ctx, await calls.accept(ctx, _call_id(request)), request[LANG]))


@api.route(
    "POST", CALL + "/hang-up", name="api_desk_call_hang_up",
    summary="The office gives up on a call not yet answered", response=CallOut,
    errors=(401, 403, 404, 409),
)  # fmt: skip
async def hang_up(request: web.Request) -> web.Response:
    ctx = request[CTX]
    return json_ok(await call_out(ctx, await calls.hang_up(ctx, _call_id(request)), request[LANG]))


@api.route(
    "POST", CALL + "/callback", name="api_desk_callback", body=CallbackIn,
    summary="The office asks the center to call back", response=CallOut,
    errors=(400, 401, 403, 404, 409, 422),
)  # fmt: skip
async def request_callback(request: web.Request) -> web.Response:
    call_id = _call_id(request)
    data = await read_json(request, CallbackIn)
    ctx = request[CTX]
    call = await calls.request_callback(ctx, call_id, data.phone, data.note)
    return json_ok(await call_out(ctx, call, request[LANG]))


@api.route(
    "POST", CALL + "/called-back", name="api_desk_called_back",
    summary="The center has called a missed call back", response=CallOut,
    errors=(401, 403, 404, 409),
)  # fmt: skip
async def called_back(request: web.Request) -> web.Response:
    ctx = request[CTX]
    return json_ok(
        await call_out(ctx, await calls.mark_called_back(ctx, _call_id(request)), request[LANG])
    )


@api.route(
    "POST", CALL + "/case", name="api_desk_call_case", body=CallIntakeIn,
    summary="Register the resident's dispute during the call (the call's intake case)",
    response=CallOut, errors=(400, 401, 403, 404, 409, 422),
)  # fmt: skip
async def call_case(request: web.Request) -> web.Response:
    return await _on_call(request, CallIntakeIn, register_case)


@api.route(
    "POST", CALL + "/attach", name="api_desk_call_attach", body=AttachIn,
    summary="Join the call (its session and documents) to a case already on the docket",
    response=CallOut, errors=(400, 401, 403, 404, 409, 422),
)  # fmt: skip
async def call_attach(request: web.Request) -> web.Response:
    async def to_case(ctx: Context, call: DeskCall, data: AttachIn) -> object:
        return await attach(ctx, call, data.case_id)

    return await _on_call(request, AttachIn, to_case)


async def _on_call(
    request: web.Request,
    model: type[M],
    act: Callable[[Context, DeskCall, M], Awaitable[object]],
) -> web.Response:
    """What happens to an answered call during it (``model`` read from the body): the call
    as it is afterwards."""
    call_id = _call_id(request)
    data = await read_json(request, model)
    ctx = request[CTX]
    call = await calls.get_call(ctx, call_id)
    await act(ctx, call, data)
    return json_ok(await call_out(ctx, call, request[LANG]))
