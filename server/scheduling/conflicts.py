"""The 409 of a booking that something is in the way of: it names the booking in the way, what
it holds and when, in one whole sentence per kind of resource (so each has its own
translation in ``errors.po``)."""

from __future__ import annotations

from server.context import Context
from server.errors import Conflict
from server.models.scheduling import Booking, Reservation

# What is in the way, by the kind of resource: one whole sentence each, so that each has its
# own translation.
TAKEN = {
    "mediator": "mediator {host} is already booked {start}–{end} by booking {booking} "
    "(case {case}, {office})",
    "judge": "judge {host} is already booked {start}–{end} by booking {booking} "
    "(case {case}, {office})",
    "room": "room {room} is already booked {start}–{end} by booking {booking} "
    "(case {case}, {office})",
    "terminal": "the video terminal of {office} is already booked {start}–{end} by booking "
    "{booking} (case {case})",
    "case": "this case is already booked {start}–{end} by booking {booking} "
    "(case {case}, {office})",
}


async def conflict(ctx: Context, found: dict[str, list[Reservation]]) -> Conflict:
    """A 409 that names the booking in the way, and what it holds."""
    resource, rows = next((k, v) for k, v in found.items() if v)
    other = await ctx.db.get(Booking, rows[0].booking_id)
    assert other is not None
    kind = resource.split(":", 1)[0]
    start = other.starts_at.astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M")
    end = other.ends_at.astimezone(ctx.tz).strftime("%H:%M")
    return Conflict(
        TAKEN.get(kind, TAKEN["case"]),
        values={
            "host": other.host.display_name,
            "room": other.room.name,
            "office": other.office.name,
            "start": start,
            "end": end,
            "booking": other.id,
            "case": other.case.number or other.case_id,
        },
        code="slot_taken",
        details={
            "booking_id": other.id,
            "resource": resource,
            "starts_at": other.starts_at.isoformat(),
            "ends_at": other.ends_at.isoformat(),
        },
    )
