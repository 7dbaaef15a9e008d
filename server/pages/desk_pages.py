"""The duty desk's pages: the center's desk (today's roster, the calls, the call-back
requests), the roster form, and a street office's terminal (呼叫诉调对接中心).

The live parts (ringing, the queue, answering) are the desk socket's and the API's, driven by
``web/static/js/desk.js`` and ``desk_terminal.js``; these pages render the rest as plain HTML.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select

from server import access, bounds
from server.desk import calls, roster
from server.errors import AppError, Forbidden, NotFound
from server.models.accounts import User
from server.models.desk import CallStatus, DeskCall
from server.models.sessions import MediationSession
from server.web.auth import require_user
from server.web.errors import worded
from server.web.http import render, see_other
from server.web.keys import CTX, USER

ROSTER_DAYS = 14
PER_HALF = 3  # places on the form per half-day; the API takes up to roster.MAX_ON_DUTY


async def desk_page(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    if access.can_place_call(user):
        return see_other("/desk/terminal")
    if user.role not in access.COURT_WIDE:
        raise NotFound("page not found")
    ctx = request[CTX]
    today = ctx.today()
    start = datetime.combine(today, datetime.min.time(), ctx.tz)
    found = await calls.calls_between(ctx, start, start + timedelta(days=1))
    names = {u.id: u.display_name for u in await roster.duty_candidates(ctx)}
    duty = await roster.roster_between(ctx, today, 1)
    view: dict[str, Any] = {
        "calls": found,
        "names": names,
        "today": today,
        "duty": {half: duty.get((today, half), []) for half in roster.HALVES},
        "now_half": roster.half_of(ctx)[1],
        "callbacks": [
            c for c in found
            if c.status in (CallStatus.MISSED, CallStatus.CANCELLED) and c.called_back_at is None
        ],
        "may_call_back": access.can_call_back(user),
        "may_edit_roster": access.can_edit_roster(user),
    }  # fmt: skip
    return render(request, "desk.html", view)


async def _roster_view(request: web.Request, user: User, error: str = "") -> web.Response:
    ctx = request[CTX]
    today = ctx.today()
    found = await roster.roster_between(ctx, today, ROSTER_DAYS)
    days = [today + timedelta(days=n) for n in range(ROSTER_DAYS)]
    view: dict[str, Any] = {
        "days": [(d, ctx.calendar.is_workday(d)) for d in days],
        "found": found,
        "candidates": await roster.duty_candidates(ctx),
        "places": range(PER_HALF),
        "halves": roster.HALVES,
        "may_edit": access.can_edit_roster(user),
        "error": error,
    }
    return render(request, "desk_roster.html", view, status=422 if error else 200)


async def roster_page(request: web.Request) -> web.Response:
    user = require_user(request)
    if not access.can_view_roster(user):
        raise NotFound("page not found")
    return await _roster_view(request, user)


async def roster_submit(request: web.Request) -> web.Response:
    user = require_user(request)
    if not access.can_edit_roster(user):
        raise Forbidden("only clerks and admins keep the duty roster", code="may_not_edit_roster")
    form = await request.post()
    day = bounds.day(str(form.get("day", "")))
    if day is None:
        return await _roster_view(request, user, "day: not a date of the court's calendar")
    half = str(form.get("half", ""))
    picked: list[int] = []
    for value in form.getall("user", []):
        if str(value).isdigit() and int(str(value)) not in picked:
            picked.append(int(str(value)))
        elif str(value) and not str(value).isdigit():
            return await _roster_view(request, user, "user: not a user id")
    try:
        await roster.set_duty(request[CTX], day, half, picked)
    except AppError as exc:
        return await _roster_view(request, user, worded(request, exc))
    return see_other(f"/desk/roster#d{day.isoformat()}")


async def terminal_page(request: web.Request) -> web.Response:
    user = require_user(request)
    if not access.can_place_call(user):
        raise NotFound("page not found")
    ctx = request[CTX]
    duty = await roster.on_duty_now(ctx)
    return render(request, "desk_terminal.html", {"duty": duty, "office": user.office})


async def call_panel(request: web.Request, session: MediationSession) -> dict[str, Any] | None:
    """In the room of a call from an office terminal: the form that registers the resident's
    dispute (for whoever may, ``access.can_register_call``), or None."""
    user = request.get(USER)
    if user is None:
        return None
    call = await request[CTX].db.scalar(
        select(DeskCall).where(
            DeskCall.session_id == session.id, DeskCall.status == CallStatus.ANSWERED
        )
    )
    if call is None or not access.can_register_call(user, call):
        return None
    return {
        "id": call.id,
        "outcome": call.outcome,
        "case_id": call.case_id,
        "may_attach": access.can_attach_call(user, call),
    }
