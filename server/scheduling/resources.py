"""What a booking occupies: a host (mediator or judge), a room at the center, the office's
video terminal, and the case itself; and who may host which kind of session.

Every resource has a key that the reservations table stores: ``mediator:12``, ``judge:3``,
``room:2``, ``terminal:5``, ``case:40``. Rooms and terminals are ``Facility`` rows that an
admin adds or retires; persons are users with the mediator or judge role, each with the
court's working hours or their own (``set_working_hours``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update

from server import access
from server.accounts import office_by_code
from server.context import Context
from server.errors import Forbidden, Invalid, NotFound
from server.models.accounts import Office, Role, User
from server.models.docket import Case, Stage
from server.models.scheduling import (
    Booking,
    Facility,
    Reservation,
    ResourceKind,
    WorkingHours,
)
from server.scheduling.hours import MAX_MINUTES, Block, format_blocks, parse_blocks

# Which stages a session can be booked for, and what kind of session it is. Mediation needs
# every party's consent (DESIGN.md); a fast-track hearing has a 5-working-day deadline.
BOOKABLE: dict[str, str] = {
    Stage.PRE_LITIGATION_MEDIATION: "mediation",
    Stage.PRETRIAL_MEDIATION: "mediation",
    Stage.FAST_TRACK: "hearing",
}
HOST_ROLE = {"mediation": Role.MEDIATOR, "hearing": Role.JUDGE}


def person_key(user: User) -> str:
    return f"{user.role}:{user.id}"


def case_key(case: Case) -> str:
    return f"case:{case.id}"


def may_host(user: User) -> bool:
    """Mediators host mediations and judges hearings; nobody else hosts a session."""
    return user.role in HOST_ROLE.values()


async def hosts(ctx: Context, kind: str) -> list[User]:
    role = HOST_ROLE[kind]
    rows = await ctx.db.scalars(
        select(User).where(User.role == role, User.active.is_(True)).order_by(User.id)
    )
    return list(rows)


async def host_by_id(ctx: Context, kind: str, user_id: int) -> User:
    """The chosen host; unknown people and people of the wrong role are named in a 422."""
    user = await ctx.db.get(User, user_id)
    role = HOST_ROLE[kind]
    if user is None or not user.active:
        raise Invalid("no active user with id {id}", code="unknown_host", values={"id": user_id})
    if user.role != role:
        raise Invalid(
            "{name} is not a mediator; a mediation is hosted by a mediator"
            if kind == "mediation"
            else "{name} is not a judge; a hearing is hosted by a judge",
            code="wrong_host_role",
            values={"name": user.display_name},
        )
    return user


async def facilities(
    ctx: Context, kind: ResourceKind, office_id: int | None = None
) -> list[Facility]:
    query = select(Facility).where(Facility.kind == kind, Facility.active.is_(True))
    if office_id is not None:
        query = query.where(Facility.office_id == office_id)
    return list(await ctx.db.scalars(query.order_by(Facility.id)))


def require_resource_admin(ctx: Context) -> None:
    """Hours and facilities are an admin's (``access.can_manage_schedule_resources``);
    handlers ask before reading a body, so a stranger learns nothing from its validation."""
    if not access.can_manage_schedule_resources(ctx.require_user()):
        raise Forbidden("your role may not do this")


async def set_working_hours(
    ctx: Context, user_id: int, raw: Sequence[Sequence[str]]
) -> tuple[User, tuple[Block, ...]]:
    """Give a mediator or judge their own working blocks (instead of the court's default)."""
    require_resource_admin(ctx)
    person = await ctx.db.get(User, user_id)
    if person is None or not may_host(person):
        raise NotFound("no mediator or judge with that id", code="host_not_found")
    blocks = parse_blocks(raw)
    row = await ctx.db.get(WorkingHours, person.id)
    if row is None:
        ctx.db.add(WorkingHours(user_id=person.id, blocks=format_blocks(blocks)))
    else:
        row.blocks = format_blocks(blocks)
    return person, blocks


async def set_facility_count(
    ctx: Context, office_code: str, count: int
) -> tuple[Office, list[Facility]]:
    """Make ``count`` rooms (at the center) or video terminals (at a street office) active at
    the office (retired ones come back first, so old bookings keep pointing at the same rows)."""
    require_resource_admin(ctx)
    office = await office_by_code(ctx, office_code, resource=True)
    db = ctx.db
    kind = ResourceKind.ROOM if office.is_center else ResourceKind.TERMINAL
    rows = list(
        await db.scalars(
            select(Facility)
            .where(Facility.kind == kind, Facility.office_id == office.id)
            .order_by(Facility.id)
        )
    )
    label = "调解室" if kind == ResourceKind.ROOM else "视频终端"
    while len(rows) < count:
        row = Facility(kind=kind, office_id=office.id, name=f"{label} {len(rows) + 1}")
        db.add(row)
        rows.append(row)
    for n, row in enumerate(rows):
        row.active = n < count
    await db.flush()
    return office, rows[:count]


async def busy(
    ctx: Context,
    resources: Iterable[str],
    start: datetime,
    end: datetime,
    *,
    exclude_booking: int | None = None,
) -> dict[str, list[Reservation]]:
    """Active reservations of these resources overlapping [start, end), by resource."""
    keys = list(resources)
    out: dict[str, list[Reservation]] = {k: [] for k in keys}
    if not keys:
        return out
    query = select(Reservation).where(
        Reservation.resource.in_(keys),
        Reservation.active.is_(True),
        Reservation.starts_at < end,
        # No session is longer than MAX_MINUTES: this bound keeps the (resource, starts_at)
        # index scan to the hours around the slot however long the history grows.
        Reservation.starts_at > start - timedelta(minutes=MAX_MINUTES),
        Reservation.ends_at > start,
    )
    if exclude_booking is not None:
        query = query.where(Reservation.booking_id != exclude_booking)
    for row in await ctx.db.scalars(query.order_by(Reservation.starts_at)):
        out[row.resource].append(row)
    return out


async def release(ctx: Context, booking: Booking) -> None:
    await ctx.db.execute(
        update(Reservation)
        .where(Reservation.booking_id == booking.id, Reservation.active.is_(True))
        .values(active=False)
    )
