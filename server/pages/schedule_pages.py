"""Scheduling pages: the office dashboard, the availability grid and booking form, a
booking with its delivery state (move, cancel), a host's day and week, the center's overview,
the calendar-feed settings, and the secret feed itself (``/calendar/{token}.ics``).

The pages call the same functions as the JSON API; a refused booking re-renders its page with
the reason and the 4xx status, and nothing is written.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select

from server import access, bounds
from server.errors import AppError, Forbidden, Unauthorized, parse_model
from server.models.accounts import Office, User
from server.scheduling import booking as booking_mod
from server.scheduling import feeds
from server.scheduling.availability import find_slots
from server.scheduling.mail import feed_calendar
from server.scheduling.queries import (
    booking_out,
    list_bookings,
    load_booking_for,
    office_for,
    waiting_cases,
)
from server.scheduling.resources import BOOKABLE, hosts, may_host
from server.scheduling.schemas import BookingIn, CancelIn, MoveIn
from server.scheduling.views import by_day, by_office_and_day, grid, local_input, parse_day, week_of
from server.web.auth import require_user
from server.web.errors import status_of, worded
from server.web.http import render, see_other
from server.web.keys import CTX
from server.web.params import path_id


async def _form(request: web.Request) -> dict[str, Any]:
    form = await request.post()
    return {k: str(v) for k, v in form.items() if k != "csrf_token" and str(v).strip() != ""}


async def dashboard(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    ctx = request[CTX]
    code = request.query.get("office")
    if not code and access.own_schedule_office(user) is None:
        # The court has no office of its own to show: hosts see their sessions, the rest
        # the center's overview.
        target = "schedule_host" if may_host(user) else "schedule_center"
        raise web.HTTPFound(str(request.app.router[target].url_for()))
    office = await office_for(ctx, code)
    tz, today = ctx.tz, ctx.today()
    rows = await list_bookings(ctx, today, today + timedelta(days=13), office_id=office.id)
    days = by_day(rows, tz)
    return render(
        request,
        "schedule_dashboard.html",
        {
            "office": office,
            "today": today,
            "today_rows": days.get(today, []),
            "upcoming": [b for b in rows if b.starts_at.astimezone(tz).date() > today],
            "waiting": await waiting_cases(ctx, office.id),
        },
    )


async def _grid_context(request: web.Request, error: str | None = None) -> dict[str, Any]:
    user = require_user(request)
    ctx = request[CTX]
    q = request.query if request.method == "GET" else await _form(request)
    db = ctx.db
    code = q.get("office")
    if not code and user.office.is_center:
        # The court books for the street offices: start with the first of them.
        code = await db.scalar(select(Office.code).where(Office.is_center.is_(False)).limit(1))
    office = await office_for(ctx, code)
    day = parse_day(q.get("date"), ctx.today())
    view = "day" if q.get("view") == "day" else "week"
    span = [day] if view == "day" else week_of(day)
    raw_minutes = q.get("duration_minutes") or "60"
    # A session lasts 1..1440 minutes (as BookingIn says); anything else is a bad link.
    valid = raw_minutes.isascii() and raw_minutes.isdigit() and len(raw_minutes) <= 4
    minutes = int(raw_minutes) if valid else 60
    minutes = minutes if 1 <= minutes <= 24 * 60 else 60
    waiting = [
        w
        for w in await waiting_cases(ctx, office.id)
        if w.consent_complete or w.stage == "fast_track"
    ]
    case_id = q.get("case_id") or (str(waiting[0].case_id) if waiting else "")
    kind = next((BOOKABLE[w.stage] for w in waiting if str(w.case_id) == case_id), "mediation")
    days = await find_slots(ctx, office, span[0], span[-1], minutes, kind)
    return {
        "office": office,
        "day": day,
        "view": view,
        "grid": grid(days, ctx.tz),
        "duration": minutes,
        "waiting": waiting,
        "case_id": case_id,
        "kind": kind,
        "hosts": await hosts(ctx, kind),
        "error": error,
        "prev": span[0] - timedelta(days=1 if view == "day" else 7),
        "next": span[-1] + timedelta(days=1),
        "offices": list(await db.scalars(select(Office).where(Office.is_center.is_(False)))),
        "can_book": access.can_book_for_office(user, office.id),
    }


async def availability_page(request: web.Request) -> web.Response:
    return render(request, "schedule_grid.html", await _grid_context(request))


async def book_submit(request: web.Request) -> web.StreamResponse:
    require_user(request)
    ctx = request[CTX]
    data = await _form(request)
    try:
        # A savepoint: a refusal undoes the attempt but keeps the page's own objects loaded.
        async with ctx.db.begin_nested():
            body = parse_model(
                BookingIn, {k: v for k, v in data.items() if k in BookingIn.model_fields}
            )
            start, end = body.span(ctx.tz)
            booking = await booking_mod.create_booking(
                ctx, body.case_id, start, end, body.host_id, body.note
            )
    except AppError as exc:
        if isinstance(exc, Unauthorized):
            raise
        context = await _grid_context(request, error=worded(request, exc))
        return render(request, "schedule_grid.html", context, status=status_of(exc))
    return see_other(
        str(request.app.router["schedule_booking"].url_for(booking_id=str(booking.id)))
    )


async def _booking_context(request: web.Request, error: str | None = None) -> dict[str, Any]:
    user = require_user(request)
    ctx = request[CTX]
    booking = await load_booking_for(ctx, path_id(request, "booking_id"))
    return {
        "b": await booking_out(ctx, booking, detail=True),
        "booking": booking,
        "may_change": access.can_change_booking(user, booking.case, booking.host_id),
        "start_input": local_input(booking.starts_at, ctx.tz),
        "hosts": await hosts(ctx, booking.kind),
        "error": error,
    }


async def booking_page(request: web.Request) -> web.Response:
    return render(request, "schedule_booking.html", await _booking_context(request))


async def _change(request: web.Request, action: str) -> web.StreamResponse:
    require_user(request)
    ctx = request[CTX]
    db = ctx.db
    data = await _form(request)
    booking = await load_booking_for(ctx, path_id(request, "booking_id"))
    try:
        async with db.begin_nested():
            if action == "move":
                body = parse_model(MoveIn, data)
                start, end = body.span(ctx.tz)
                await booking_mod.move_booking(ctx, booking, start, end, body.reason, body.host_id)
            else:
                reason = parse_model(CancelIn, data).reason
                await booking_mod.cancel_booking(ctx, booking, reason)
    except AppError as exc:
        if isinstance(exc, Unauthorized):
            raise
        await db.refresh(booking)
        page = await _booking_context(request, error=worded(request, exc))
        return render(request, "schedule_booking.html", page, status=status_of(exc))
    return see_other(request.path.rsplit("/", 1)[0])


async def move_submit(request: web.Request) -> web.StreamResponse:
    return await _change(request, "move")


async def cancel_submit(request: web.Request) -> web.StreamResponse:
    return await _change(request, "cancel")


async def host_page(request: web.Request) -> web.Response:
    """A mediator's (or judge's) day and week; the court may look at anyone's."""
    user = require_user(request)
    ctx = request[CTX]
    host = user
    asked = bounds.row_id(request.query.get("host"))
    if asked is not None and access.can_view_sessions_of(user, asked):
        host = await ctx.db.get(User, asked) or user
    day = parse_day(request.query.get("date"), ctx.today())
    view = "day" if request.query.get("view") == "day" else "week"
    span = [day] if view == "day" else week_of(day)
    rows = await list_bookings(ctx, span[0], span[-1], host_id=host.id)
    return render(
        request,
        "schedule_host.html",
        {
            "host": host,
            "day": day,
            "view": view,
            "span": span,
            "days": by_day(rows, ctx.tz),
            "prev": span[0] - timedelta(days=1 if view == "day" else 7),
            "next": span[-1] + timedelta(days=1),
            "hosts": await hosts(ctx, "mediation") + await hosts(ctx, "hearing"),
        },
    )


async def center_page(request: web.Request) -> web.Response:
    user = require_user(request)
    if not access.can_view_center_schedule(user):
        raise Forbidden("the center's overview is for court staff", code="court_only")
    ctx = request[CTX]
    day = parse_day(request.query.get("date"), ctx.today())
    span = week_of(day)
    rows = await list_bookings(ctx, span[0], span[-1])
    every_office = list(await ctx.db.scalars(select(Office).order_by(Office.id)))
    offices = [o for o in every_office if not o.is_center]
    return render(
        request,
        "schedule_center.html",
        {
            "span": span,
            "offices": offices,
            "cells": by_office_and_day(rows, ctx.tz),
            "total": len(rows),
            "prev": span[0] - timedelta(days=7),
            "next": span[-1] + timedelta(days=1),
            "calendar": ctx.calendar,
            "waiting": await waiting_cases(ctx),
            # A waiting case names its office by code (the API's field); the page by name.
            "office_by_code": {o.code: o for o in every_office},
        },
    )


async def feed_page(request: web.Request, url: str | None = None) -> web.Response:
    require_user(request)
    active = await feeds.active_feed(request[CTX])
    return render(request, "schedule_feed.html", {"active": active, "new_url": url})


async def feed_new(request: web.Request) -> web.Response:
    require_user(request)
    ctx = request[CTX]
    token = await feeds.new_feed(ctx)
    return await feed_page(request, feeds.feed_url(ctx.settings, token))


async def feed_revoke(request: web.Request) -> web.StreamResponse:
    require_user(request)
    await feeds.revoke_feeds(request[CTX])
    return see_other(str(request.app.router["schedule_feed"].url_for()))


async def calendar_feed(request: web.Request) -> web.Response:
    ctx = request[CTX]
    owner = await feeds.feed_owner(ctx, request.match_info["token"])
    rows = await feeds.feed_bookings(ctx, owner)
    body = feed_calendar(rows, ctx.settings, f"courtlink · {owner.display_name}")
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )
