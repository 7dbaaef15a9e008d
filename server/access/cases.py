"""Who may see and change which case (the docket), register one, and see which office's
reports: the rules every other part of ``server.access`` builds on."""

from __future__ import annotations

from sqlalchemy import ColumnElement, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

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


def can_see_every_office(user: User) -> bool:
    """The court sees every office's cases, so the docket offers it the office and assignee
    filters; office staff see their own office's cases only, so they get neither."""
    return user.role in COURT_WIDE


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


async def load_case_for(db: AsyncSession, user: User, case_id: int, *, edit: bool = False) -> Case:
    """Load a case the user may see (404 otherwise); with ``edit``, may also change (403)."""
    # The parties joined in, not read by a second statement: nearly every caller needs them.
    case = await db.get(Case, case_id, options=[joinedload(Case.parties)])
    if case is None or not can_view_case(user, case):
        raise NotFound("case {id} not found", code="case_not_found", values={"id": case_id})
    if edit and not can_edit_case(user, case):
        raise Forbidden("you may not change this case")
    return case
