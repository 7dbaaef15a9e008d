"""JSON API of scheduling: availability, bookings (create, move, cancel), cases waiting to be
booked, resources and working hours, and the caller's calendar feed."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from server.api.registry import ApiRouter
from server.errors import parse_model
from server.models.scheduling import ResourceKind
from server.scheduling import booking as booking_mod
from server.scheduling import feeds
from server.scheduling.availability import find_slots
from server.scheduling.hours import format_blocks, hours_for
from server.scheduling.queries import (
    booking_out,
    host_out,
    list_bookings,
    load_booking_for,
    office_for,
    office_scope,
    waiting_cases,
)
from server.scheduling.resources import (
    facilities,
    hosts,
    require_resource_admin,
    set_facility_count,
    set_working_hours,
)
from server.scheduling.schemas import (
    AvailabilityOut,
    AvailabilityQuery,
    BookingIn,
    BookingOut,
    BookingsQuery,
    CancelIn,
    DayOut,
    FacilityCountIn,
    FacilityOut,
    FeedOut,
    HostHoursOut,
    HoursIn,
    MoveIn,
    ResourcesOut,
    SlotOut,
    WaitingOut,
    WaitingQuery,
    local_minute,
)
from server.web.auth import require_user
from server.web.http import json_ok, read_json
from server.web.keys import CTX
from server.web.params import path_id

api = ApiRouter("scheduling")


@api.route(
    "GET",
    "/scheduling/availability",
    name="api_sched_availability",
    summary="Free slots for an office, with who could host each",
    query=AvailabilityQuery,
    response=AvailabilityOut,
    errors=(404, 422),
)
async def availability(request: web.Request) -> web.Response:
    require_user(request)
    ctx = request[CTX]
    q = parse_model(AvailabilityQuery, dict(request.query))
    office = await office_for(ctx, q.office)
    days = await find_slots(
        ctx, office, q.start, q.end or q.start, q.duration_minutes, q.kind, q.host_id
    )
    tz = ctx.tz
    out = AvailabilityOut(
        office=office.code,
        kind=q.kind,
        duration_minutes=q.duration_minutes,
        timezone=ctx.settings.timezone,
        days=[
            DayOut(
                date=d.day,
                working=d.working,
                slots=[
                    SlotOut(
                        starts_at=s.starts_at,
                        ends_at=s.ends_at,
                        local_start=local_minute(s.starts_at, tz),
                        local_end=local_minute(s.ends_at, tz),
                        hosts=[host_out(h) for h in s.hosts],
                    )
                    for s in d.slots
                ],
            )
            for d in days
        ],
    )
    return json_ok(out.model_dump(mode="json"))


@api.route(
    "GET",
    "/scheduling/bookings",
    name="api_sched_bookings",
    summary="Bookings in a range",
    query=BookingsQuery,
    response=BookingOut,
    response_list=True,
    errors=(404, 422),
)
async def bookings(request: web.Request) -> web.Response:
    require_user(request)
    ctx = request[CTX]
    q = parse_model(BookingsQuery, dict(request.query))
    office_id = await office_scope(ctx, q.office)
    first = q.start or ctx.today()
    last = q.end or first + timedelta(days=6)
    rows = await list_bookings(
        ctx, first, last, office_id=office_id, host_id=q.host_id, status=q.status
    )
    return json_ok([(await booking_out(ctx, b)).model_dump(mode="json") for b in rows])


async def _booking_response(
    request: web.Request, booking_id: int, status: int = 200
) -> web.Response:
    require_user(request)
    ctx = request[CTX]
    booking = await load_booking_for(ctx, booking_id)
    out = await booking_out(ctx, booking, detail=True)
    return json_ok(out.model_dump(mode="json"), status)


@api.route(
    "POST",
    "/scheduling/bookings",
    name="api_sched_book",
    summary="Book a session for a case",
    body=BookingIn,
    response=BookingOut,
    status=201,
    errors=(404, 409),
)
async def book(request: web.Request) -> web.Response:
    require_user(request)
    ctx = request[CTX]
    body = await read_json(request, BookingIn)
    start, end = body.span(ctx.tz)
    booking = await booking_mod.create_booking(
        ctx, body.case_id, start, end, body.host_id, body.note
    )
    return await _booking_response(request, booking.id, 201)


@api.route(
    "GET",
    "/scheduling/bookings/{booking_id:\\d+}",
    name="api_sched_booking",
    summary="One booking with its invites and delivery state",
    response=BookingOut,
    errors=(404,),
)
async def get_booking(request: web.Request) -> web.Response:
    return await _booking_response(request, path_id(request, "booking_id"))


@api.route(
    "POST",
    "/scheduling/bookings/{booking_id:\\d+}/move",
    name="api_sched_move",
    summary="Move a booking (new time or host) with a reason",
    body=MoveIn,
    response=BookingOut,
    errors=(404, 409),
)
async def move(request: web.Request) -> web.Response:
    require_user(request)
    ctx = request[CTX]
    body = await read_json(request, MoveIn)
    booking = await load_booking_for(ctx, path_id(request, "booking_id"))
    start, end = body.span(ctx.tz)
    await booking_mod.move_booking(ctx, booking, start, end, body.reason, body.host_id)
    return await _booking_response(request, booking.id)


@api.route(
    "POST",
    "/scheduling/bookings/{booking_id:\\d+}/cancel",
    name="api_sched_cancel",
    summary="Cancel a booking with a reason",
    body=CancelIn,
    response=BookingOut,
    errors=(404, 409),
)
async def cancel(request: web.Request) -> web.Response:
    require_user(request)
    ctx = request[CTX]
    body = await read_json(request, CancelIn)
    booking = await load_booking_for(ctx, path_id(request, "booking_id"))
    await booking_mod.cancel_booking(ctx, booking, body.reason)
    return await _booking_response(request, booking.id)


@api.route(
    "GET",
    "/scheduling/waiting",
    name="api_sched_waiting",
    summary="Cases at a bookable stage with no session to come",
    query=WaitingQuery,
    response=WaitingOut,
    response_list=True,
    errors=(404,),
)
async def waiting(request: web.Request) -> web.Response:
    require_user(request)
    ctx = request[CTX]
    q = parse_model(WaitingQuery, dict(request.query))
    office_id = await office_scope(ctx, q.office)
    rows = await waiting_cases(ctx, office_id)
    return json_ok([r.model_dump(mode="json") for r in rows])


@api.route(
    "GET",
    "/scheduling/resources",
    name="api_sched_resources",
    summary="Mediators and judges with their hours, rooms and terminals",
    response=ResourcesOut,
)
async def resources(request: web.Request) -> web.Response:
    require_user(request)
    ctx = request[CTX]
    people = await hosts(ctx, "mediation") + await hosts(ctx, "hearing")
    hours = await hours_for(ctx, [p.id for p in people])

    def fac(kind: ResourceKind) -> list[FacilityOut]:
        return [
            FacilityOut(id=f.id, kind=f.kind, office=f.office.code, name=f.name) for f in rows[kind]
        ]

    rows = {k: await facilities(ctx, k) for k in ResourceKind}
    out = ResourcesOut(
        hosts=[
            HostHoursOut(
                id=p.id, name=p.display_name, role=p.role, blocks=format_blocks(hours[p.id])
            )
            for p in people
        ],
        rooms=fac(ResourceKind.ROOM),
        terminals=fac(ResourceKind.TERMINAL),
    )
    return json_ok(out.model_dump(mode="json"))


@api.route(
    "PUT",
    "/scheduling/hours/{user_id:\\d+}",
    name="api_sched_hours",
    summary="Set a mediator's or judge's working hours (admin)",
    body=HoursIn,
    response=HostHoursOut,
    errors=(404,),
)
async def set_hours(request: web.Request) -> web.Response:
    require_user(request)
    require_resource_admin(request[CTX])
    body = await read_json(request, HoursIn)
    person, blocks = await set_working_hours(request[CTX], path_id(request, "user_id"), body.blocks)
    out = HostHoursOut(
        id=person.id, name=person.display_name, role=person.role, blocks=format_blocks(blocks)
    )
    return json_ok(out.model_dump())


@api.route(
    "PUT",
    "/scheduling/facilities/{office}",
    name="api_sched_facilities",
    summary="Set the number of rooms (center) or video terminals (office) (admin)",
    body=FacilityCountIn,
    response=FacilityOut,
    response_list=True,
    errors=(404,),
)
async def set_facilities(request: web.Request) -> web.Response:
    require_user(request)
    ctx = request[CTX]
    require_resource_admin(ctx)
    body = await read_json(request, FacilityCountIn)
    office, rows = await set_facility_count(ctx, request.match_info["office"], body.count)
    return json_ok(
        [
            FacilityOut(id=f.id, kind=f.kind, office=office.code, name=f.name).model_dump()
            for f in rows
        ]
    )


@api.route(
    "POST",
    "/scheduling/feed",
    name="api_sched_feed_new",
    summary="A new secret calendar-feed URL for the caller (the old one stops working)",
    response=FeedOut,
    status=201,
)
async def feed_new(request: web.Request) -> web.Response:
    require_user(request)
    ctx = request[CTX]
    token = await feeds.new_feed(ctx)
    return json_ok(FeedOut(url=feeds.feed_url(ctx.settings, token)).model_dump(), 201)


@api.route(
    "DELETE",
    "/scheduling/feed",
    name="api_sched_feed_revoke",
    summary="Revoke the caller's calendar-feed URL",
    status=204,
)
async def feed_revoke(request: web.Request) -> web.Response:
    require_user(request)
    await feeds.revoke_feeds(request[CTX])
    return web.Response(status=204)
