"""The one access check: who may see or change which case, and see whose identity.

Every route that touches a case goes through ``load_case_for`` (or the ``can_*`` functions for
lists), whether it serves a page or the API. A case that a user may not see is reported as
not found, so its existence does not leak across offices.

Rules (DESIGN.md "The people"):
- admin, clerk, judge, mediator (the court) see every case; judges and mediators default to
  "assigned to me" in the docket, but the center is small and they cover for each other;
- office staff see only the cases of their own office;
- a party's ID number is shown unmasked only to the case's assigned judge, mediator and clerk;
- parties (no account) see nothing of the docket; they reach only their own session through
  an invite link (signaling checks that).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, true
from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import Forbidden, NotFound
from server.models.accounts import Role, User
from server.models.docket import Case

COURT_WIDE = frozenset({Role.ADMIN, Role.CLERK, Role.JUDGE, Role.MEDIATOR})
# Who may change a case's details and parties (stage moves have their own table in stages).
EDITORS = frozenset({Role.ADMIN, Role.CLERK, Role.JUDGE, Role.MEDIATOR})


def can_view_case(user: User, case: Case) -> bool:
    if user.role in COURT_WIDE:
        return True
    return user.role == Role.OFFICE_STAFF and case.office_id == user.office_id


def visible_cases_clause(user: User) -> ColumnElement[bool]:
    """A WHERE clause limiting a case query to what ``user`` may see."""
    if user.role in COURT_WIDE:
        return true()
    return Case.office_id == user.office_id


def is_assigned(user: User, case: Case) -> bool:
    return user.id in (case.judge_id, case.mediator_id, case.clerk_id)


def can_see_identity(user: User, case: Case) -> bool:
    """Unmasked ID numbers: only the assigned judge, mediator and clerk."""
    return is_assigned(user, case)


def can_edit_case(user: User, case: Case) -> bool:
    if user.role in EDITORS:
        return True
    # Office staff keep registering a resident's dispute while it is still at intake.
    return (
        user.role == Role.OFFICE_STAFF
        and case.office_id == user.office_id
        and case.stage == "intake"
    )


def can_assign(user: User, case: Case) -> bool:
    """Assigning the judge, mediator and clerk: the clerks who keep the docket, and admins.
    An assignment also decides who sees ID numbers, so it is not left to anyone who edits."""
    return user.role in (Role.ADMIN, Role.CLERK)


def can_create_case(user: User, office_id: int) -> bool:
    """Registering a dispute: the court's clerks and mediators (walk-ins at the center),
    admins, and office staff for their own office. Judges receive cases, they do not
    register them."""
    if user.role in (Role.ADMIN, Role.CLERK, Role.MEDIATOR):
        return True
    return user.role == Role.OFFICE_STAFF and user.office_id == office_id


def can_view_report(user: User, office_id: int | None) -> bool:
    """Reports: the court sees any office's figures and the whole court's; office staff see
    their own office's only (``office_id`` None is all offices)."""
    if user.role in COURT_WIDE:
        return True
    return user.role == Role.OFFICE_STAFF and office_id == user.office_id


# Scheduling: from this many minutes before a session's start only court staff may change it.
LATE_CHANGE_MINUTES = 30


def can_book_case(user: User, case: Case) -> bool:
    """Booking a session: office staff for their own office's cases, clerks and admins for
    any. Judges and mediators are booked, they do not book."""
    if user.role in (Role.ADMIN, Role.CLERK):
        return True
    return user.role == Role.OFFICE_STAFF and case.office_id == user.office_id


def can_change_booking(user: User, case: Case, host_id: int) -> bool:
    """Moving or cancelling a booking: whoever may book the case, and its host. The
    30-minute rule (court staff only) is applied on top by the scheduler."""
    return can_book_case(user, case) or user.id == host_id


def can_schedule_for_office(user: User, office_id: int) -> bool:
    """Availability and the bookings of an office: the court for any office, office staff
    for their own."""
    if user.role in COURT_WIDE:
        return True
    return user.role == Role.OFFICE_STAFF and office_id == user.office_id


def can_view_recordings(user: User, case: Case) -> bool:
    """Recordings: the assigned judge and mediator, the clerks and admins."""
    if user.role in (Role.ADMIN, Role.CLERK):
        return True
    return user.id in (case.judge_id, case.mediator_id)


def can_draft_agreement(user: User, case: Case) -> bool:
    """Drafting an agreement's terms: the mediators and judges (a fast-track judge mediates
    too), as for any case they may see."""
    return user.role in (Role.MEDIATOR, Role.JUDGE) and can_view_case(user, case)


def is_agreement_mediator(user: User, case: Case, drafted_by: int | None) -> bool:
    """Who signs an agreement as its mediator (last): the case's assigned mediator, else,
    where none is assigned, the mediator or judge who drafted it."""
    if case.mediator_id is not None:
        return user.id == case.mediator_id
    return user.id == drafted_by and user.role in (Role.MEDIATOR, Role.JUDGE)


def can_confirm_agreement(user: User, case: Case) -> bool:
    """Judicial confirmation is a judge's ruling (the stage machine checks the move too)."""
    return user.role == Role.JUDGE and can_view_case(user, case)


def can_download_agreements_zip(user: User) -> bool:
    """The zip of many sealed agreements is for the file: clerks and admins."""
    return user.role in (Role.CLERK, Role.ADMIN)


def can_edit_agreement_templates(user: User) -> bool:
    return user.role == Role.ADMIN


async def load_case_for(db: AsyncSession, user: User, case_id: int, *, edit: bool = False) -> Case:
    """Load a case the user may see (404 otherwise); with ``edit``, may also change (403)."""
    case = await db.get(Case, case_id)
    if case is None or not can_view_case(user, case):
        raise NotFound(f"case {case_id} not found", code="case_not_found")
    if edit and not can_edit_case(user, case):
        raise Forbidden("you may not change this case")
    return case
