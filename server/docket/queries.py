"""Reading the docket: search with filters and pages, the timeline, a case's numbers, the
fast-track overdue and due-soon lists, and the court's people a case can be assigned to.

Every list of cases is limited by ``server.access.visible_cases_clause``: office staff see
only their own office's cases, whatever the filters say. "Today" is ``ctx.today()``, the
court-local date of the context's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import ColumnElement, Select, exists, func, or_, select

from server.access import visible_cases_clause
from server.context import Context
from server.docket.schemas import CaseFilters
from server.models.accounts import Office, Role, User
from server.models.docket import Case, CaseNumber, DocketEntry, Party, Stage


@dataclass
class CasePage:
    items: list[Case]
    total: int
    page: int
    per_page: int
    filters: CaseFilters | None = field(default=None, repr=False)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


# A number typed with ASCII brackets, as a keyboard gives them, finds the number as it is
# written (（2026）…).
_FULL_WIDTH = str.maketrans("()", "（）")


def _search(q: str) -> ColumnElement[bool]:
    # Case numbers are matched against every number the case has carried, so an old 民诉前调
    # number still finds a case that has since been filed under 民初.
    number = q.translate(_FULL_WIDTH)
    return or_(
        Case.number.icontains(number, autoescape=True),
        Case.tracking_code.icontains(q, autoescape=True),
        Case.cause.icontains(q, autoescape=True),
        exists().where(Party.case_id == Case.id, Party.name.icontains(q, autoescape=True)),
        exists().where(
            CaseNumber.case_id == Case.id,
            CaseNumber.number.icontains(number, autoescape=True),
        ),
    )


# Decided on the deadline day itself is in time; overdue from the next day. The same rule as
# a query's clause and for a case in hand.
def _overdue(today: date) -> ColumnElement[bool]:
    return (Case.stage == Stage.FAST_TRACK) & (Case.fast_track_deadline < today)


def is_overdue(case: Case, today: date) -> bool:
    deadline = case.fast_track_deadline
    return case.stage == Stage.FAST_TRACK and deadline is not None and deadline < today


def filtered(user: User, filters: CaseFilters, today: date) -> Select[Case]:
    """The docket query for ``user`` and ``filters``, unordered and unpaged."""
    stmt = select(Case).where(visible_cases_clause(user))
    if filters.q:
        stmt = stmt.where(_search(filters.q))
    if filters.stage is not None:
        stmt = stmt.where(Case.stage == filters.stage)
    if filters.office:
        stmt = stmt.where(
            Case.office_id
            == select(Office.id).where(Office.code == filters.office).scalar_subquery()
        )
    if filters.assignee:
        uid = user.id if filters.assignee == "me" else int(filters.assignee)
        stmt = stmt.where(or_(Case.judge_id == uid, Case.mediator_id == uid, Case.clerk_id == uid))
    if filters.overdue:
        stmt = stmt.where(_overdue(today))
    return stmt


async def list_cases(ctx: Context, filters: CaseFilters) -> CasePage:
    """One page of the cases the user may see matching ``filters``, newest first."""
    stmt = filtered(ctx.require_user(), filters, ctx.today())
    total = await ctx.db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = await ctx.db.scalars(
        stmt.order_by(Case.created_at.desc(), Case.id.desc())
        .limit(filters.per_page)
        .offset((filters.page - 1) * filters.per_page)
    )
    return CasePage(list(rows.unique()), int(total or 0), filters.page, filters.per_page, filters)


async def timeline(ctx: Context, case: Case) -> list[DocketEntry]:
    """The case's docket entries, oldest first."""
    rows = await ctx.db.scalars(
        select(DocketEntry).where(DocketEntry.case_id == case.id).order_by(DocketEntry.id)
    )
    return list(rows.unique())


async def case_numbers(ctx: Context, case: Case) -> list[CaseNumber]:
    """Every number the case has carried, in the order given."""
    rows = await ctx.db.scalars(
        select(CaseNumber).where(CaseNumber.case_id == case.id).order_by(CaseNumber.id)
    )
    return list(rows)


async def overdue_cases(ctx: Context) -> list[Case]:
    """Fast-track cases past their 5-working-day deadline, the most overdue first."""
    rows = await ctx.db.scalars(
        select(Case)
        .where(visible_cases_clause(ctx.require_user()), _overdue(ctx.today()))
        .order_by(Case.fast_track_deadline, Case.id)
    )
    return list(rows.unique())


async def due_soon_cases(ctx: Context) -> list[Case]:
    """Fast-track cases whose deadline is today or the next working day."""
    today = ctx.today()
    horizon = ctx.calendar.next_workday(today)
    rows = await ctx.db.scalars(
        select(Case)
        .where(
            visible_cases_clause(ctx.require_user()),
            Case.stage == Stage.FAST_TRACK,
            Case.fast_track_deadline >= today,
            Case.fast_track_deadline <= horizon,
        )
        .order_by(Case.fast_track_deadline, Case.id)
    )
    return list(rows.unique())


async def assignable_people(ctx: Context) -> list[User]:
    """The court's active judges, mediators and clerks, by role and name: who a case can be
    assigned to, and who the docket can be filtered by."""
    rows = await ctx.db.scalars(
        select(User)
        .where(User.active.is_(True), User.role.in_([Role.JUDGE, Role.MEDIATOR, Role.CLERK]))
        .order_by(User.role, User.display_name)
    )
    return list(rows.unique())


async def all_offices(ctx: Context) -> list[Office]:
    """Every office, the center first (the order they were created in)."""
    return list(await ctx.db.scalars(select(Office).order_by(Office.id)))
