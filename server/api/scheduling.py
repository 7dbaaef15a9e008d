"""JSON API of scheduling: availability, bookings (create, move, cancel), cases waiting to be
booked, resources and working hours, and the caller's calendar feed."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from server.access import can_schedule_for_office
from server.api.registry import ApiRouter
from server.errors import Forbidden, NotFound, parse_model
from server.models.accounts import Office, Role, User
from server.models.scheduling import ResourceKind, WorkingHours
from server.scheduling import booking as booking_mod
from server.scheduling import feeds
from server.scheduling.availability import find_slots
from server.scheduling.hours import format_blocks, hours_for, local_to_utc, parse_blocks
from server.scheduling.queries import (
    booking_out,
    host_out,
    list_bookings,
    load_booking_for,
    waiting_cases,
)
from server.scheduling.resources import facilities, hosts, office_by_code, set_facility_count
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
    _Times,
)
from server.web.auth import require_role, require_user
from server.web.http import json_ok, read_json
from server.web.keys import CALENDAR, CTX, DB, SETTINGS

api = ApiRouter("scheduling")


def times_of(request: web.Request, body: _Times) -> tuple[datetime, datetime]:
    tz = request.app[SETTINGS].tz
    start = local_to_utc(body.starts_at, tz)
    if body.ends_at is not None:
        return start, local_to_utc(body.ends_at, tz)
    return start, start + timedelta(minutes=body.duration_minutes or 0)


async def office_for(request: web.Request, user: User, code: str | None) -> Office:
    """The office asked about; office staff only their own (403 for another)."""
    db = request[DB]
    office = await office_by_code(db, code) if code else await db.get(Office, user.office_id)
    assert office is not None
    if not can_schedule_for_office(user, office.id):
        raise Forbidden("office staff see their own office's schedule only", code="other_office")
    return office


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
    user = require_user(request)
    q = parse_model(AvailabilityQuery, dict(request.query))
    office = await office_for(request, user, q.office)
    settings = request.app[SETTINGS]
    days = await find_slots(
        request[DB],
        settings,
        request.app[CALENDAR],
        office,
        q.start,
        q.end or q.start,
        q.duration_minutes,
        q.kind,
        q.host_id,
        request[CTX].now(),
    )
    tz = settings.tz
    out = AvailabilityOut(
        office=office.code,
        kind=q.kind,
        duration_minutes=q.duration_minutes,
        timezone=settings.timezone,
        days=[
            DayOut(
                date=d.day,
                working=d.working,
                slots=[
                    SlotOut(
                        starts_at=s.starts_at,
                        ends_at=s.ends_at,
                        local_start=s.starts_at.astimezone(tz).strftime("%H:%M"),
                        local_end=s.ends_at.astimezone(tz).strftime("%H:%M"),
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
    user = require_user(request)
    q = parse_model(BookingsQuery, dict(request.query))
    db, settings = request[DB], request.app[SETTINGS]
    office_id = None
    if q.office or user.role == Role.OFFICE_STAFF:
        office_id = (await office_for(request, user, q.office)).id
    first = q.start or request[CTX].now().astimezone(settings.tz).date()
    last = q.end or first + timedelta(days=6)
    rows = await list_bookings(
        db, user, settings, first, last, office_id=office_id, host_id=q.host_id, status=q.status
    )
    return json_ok(
        [(await booking_out(db, user, settings, b)).model_dump(mode="json") for b in rows]
    )


async def _booking_response(
    request: web.Request, booking_id: int, status: int = 200
) -> web.Response:
    user = require_user(request)
    db = request[DB]
    booking = await load_booking_for(db, user, booking_id)
    out = await booking_out(db, user, request.app[SETTINGS], booking, detail=True)
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
    user = require_user(request)
    body = await read_json(request, BookingIn)
    start, end = times_of(request, body)
    booking = await booking_mod.create_booking(
        request, user, body.case_id, start, end, body.host_id, body.note
    )
    request[CTX].signal_after_commit("outbox")
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
    return await _booking_response(request, int(request.match_info["booking_id"]))


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
    user = require_user(request)
    body = await read_json(request, MoveIn)
    booking = await load_booking_for(request[DB], user, int(request.match_info["booking_id"]))
    start, end = times_of(request, body)
    await booking_mod.move_booking(request, user, booking, start, end, body.reason, body.host_id)
    request[CTX].signal_after_commit("outbox")
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
    user = require_user(request)
    body = await read_json(request, CancelIn)
    booking = await load_booking_for(request[DB], user, int(request.match_info["booking_id"]))
    await booking_mod.cancel_booking(request, user, booking, body.reason)
    request[CTX].signal_after_commit("outbox")
    return await _booking_response(request, booking.id)


@api.route(
    "GET",
    "/scheduling/waiting",
    name="api_sched_waiting",
    summary="Cases at a bookable stage with no session to come",
    response=WaitingOut,
    response_list=True,
    errors=(404,),
)
async def waiting(request: web.Request) -> web.Response:
    user = require_user(request)
    code = request.query.get("office")
    office_id = None
    if code or user.role == Role.OFFICE_STAFF:
        office_id = (await office_for(request, user, code)).id
    rows = await waiting_cases(request[DB], user, request[CTX].now(), office_id)
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
    db = request[DB]
    people = await hosts(db, "mediation") + await hosts(db, "hearing")
    hours = await hours_for(db, [p.id for p in people])

    def fac(kind: ResourceKind) -> list[FacilityOut]:
        return [
            FacilityOut(id=f.id, kind=f.kind, office=f.office.code, name=f.name) for f in rows[kind]
        ]

    rows = {k: await facilities(db, k) for k in ResourceKind}
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
    require_role(request, Role.ADMIN)
    body = await read_json(request, HoursIn)
    db = request[DB]
    person = await db.get(User, int(request.match_info["user_id"]))
    if person is None or person.role not in (Role.MEDIATOR, Role.JUDGE):
        raise NotFound("no mediator or judge with that id", code="host_not_found")
    blocks = parse_blocks(body.blocks)
    row = await db.get(WorkingHours, person.id)
    if row is None:
        db.add(WorkingHours(user_id=person.id, blocks=format_blocks(blocks)))
    else:
        row.blocks = format_blocks(blocks)
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
    require_role(request, Role.ADMIN)
    body = await read_json(request, FacilityCountIn)
    office = await office_by_code(request[DB], request.match_info["office"])
    kind = ResourceKind.ROOM if office.is_center else ResourceKind.TERMINAL
    rows = await set_facility_count(request[DB], office, kind, body.count)
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
    user = require_user(request)
    token = await feeds.new_feed(request[DB], user, request[CTX].now())
    return json_ok(FeedOut(url=feeds.feed_url(request.app[SETTINGS], token)).model_dump(), 201)


@api.route(
    "DELETE",
    "/scheduling/feed",
    name="api_sched_feed_revoke",
    summary="Revoke the caller's calendar-feed URL",
    status=204,
)
async def feed_revoke(request: web.Request) -> web.Response:
    user = require_user(request)
    await feeds.revoke_feeds(request[DB], user, request[CTX].now())
    return web.Response(status=204)
