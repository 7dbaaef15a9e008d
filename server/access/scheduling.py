"""Who may book, move and cancel remote sessions for which office, and see whose schedule."""

from __future__ import annotations

from sqlalchemy import ColumnElement, true

from server.access.cases import COURT_WIDE
from server.models.accounts import Role, User
from server.models.docket import Case
from server.models.scheduling import Booking

# Scheduling: from this many minutes before a session's start only court staff may change it.
LATE_CHANGE_MINUTES = 30


def can_book_for_office(user: User, office_id: int) -> bool:
    """Booking a session: office staff for their own office, clerks and admins for any.
    Judges and mediators are booked, they do not book."""
    if user.role in (Role.ADMIN, Role.CLERK):
        return True
    return user.role == Role.OFFICE_STAFF and office_id == user.office_id


def can_book_case(user: User, case: Case) -> bool:
    """Booking a session for a case: as for the case's office (``can_book_for_office``)."""
    return can_book_for_office(user, case.office_id)


def can_change_booking(user: User, case: Case, host_id: int) -> bool:
    """Moving or cancelling a booking: whoever may book the case, and its host. The
    30-minute rule (``can_change_late``) is applied on top by the scheduler."""
    return can_book_case(user, case) or user.id == host_id


def can_change_late(user: User) -> bool:
    """Within ``LATE_CHANGE_MINUTES`` of the start only the court's staff may move or cancel
    a session: the residents are on their way by then, and the court answers for calling
    it off."""
    return user.role in COURT_WIDE


def can_schedule_for_office(user: User, office_id: int) -> bool:
    """Availability and the bookings of an office: the court for any office, office staff
    for their own."""
    if user.role in COURT_WIDE:
        return True
    return user.role == Role.OFFICE_STAFF and office_id == user.office_id


def own_schedule_office(user: User) -> int | None:
    """The office whose schedule a user is held to: office staff their own; None for the
    court, which sees every office and picks one."""
    return None if user.role in COURT_WIDE else user.office_id


def can_view_center_schedule(user: User) -> bool:
    """The center's overview of every office's week: the court's staff (an office has its
    own dashboard)."""
    return user.role in COURT_WIDE


def can_browse_host_schedules(user: User) -> bool:
    """The hosts' day and week pages (``/schedule/my``, any host's): the court's staff, who
    host or cover for the hosts; an office books through its own dashboard."""
    return user.role in COURT_WIDE


def can_view_sessions_of(user: User, host_id: int) -> bool:
    """A host's day and week: their own; the court's staff may look at any host's, since
    they cover for each other."""
    return user.id == host_id or user.role in COURT_WIDE


def can_manage_schedule_resources(user: User) -> bool:
    """Mediators' and judges' working hours, the center's rooms, the offices' terminals:
    admins, who keep offices, rooms and settings (DESIGN.md "The people")."""
    return user.role == Role.ADMIN


def calendar_feed_clause(user: User) -> ColumnElement[bool]:
    """What a user's calendar feed carries: a host's own sessions, office staff their
    office's, clerks and admins the whole court. The feed leaves the court for a calendar
    app, so it holds the owner's own work, not all they could look up."""
    if user.role in (Role.MEDIATOR, Role.JUDGE):
        return Booking.host_id == user.id
    if user.role == Role.OFFICE_STAFF:
        return Booking.office_id == user.office_id
    return true()
