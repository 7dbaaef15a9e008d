"""The court's figures for one year and one office (or all offices), from the docket.

Every figure below is defined so that a clerk can explain it and recount it by hand.

**Which cases count.** A *report year* holds the cases *registered* (``created_at``, in the
court's time zone) from 1 January to 31 December of that year, whatever happened to them
later; a case registered in December and mediated in January counts in December's year. The
*office* filter keeps the cases of one originating office (``Case.office_id``).
A duty-desk call's reception case (``server.desk.intake``) is a registered case only once the
call registers the resident's dispute on it: not while the call is on, and not after a call
that stayed advice only (咨询), or every enquiry would count as a case.

- **Civil cases** (民事案件): registered cases that entered pre-litigation mediation or were
  filed (``was_pre_litigation`` or ``was_filed``). A dispute still at intake, or withdrawn at
  intake, never became a civil case and is not counted.
- **Civil trial cases** (民初, filed): civil cases that were filed (``was_filed``), whether
  directly or after pre-litigation mediation failed.
- **Pretrial-mediated** (庭前调解): filed cases that ended in mediation *in pretrial
  mediation* (outcome ``mediated_pretrial``). Mediation in the fast-track tribunal is not
  pretrial mediation.
- **Pre-litigation-mediated** (诉前调解成功): cases that ended in mediation in pre-litigation
  mediation, before any filing (outcome ``mediated_pre_litigation``).

**The three figures of the court's report** (percentages rounded half-up to two decimals):

1. *Pretrial-mediated share of civil trial cases* = pretrial-mediated ÷ civil trial cases.
2. *Pre-litigation-mediated share of all civil cases* = pre-litigation-mediated ÷ civil cases.
3. *"x% of judicial resources resolve y% of the civil workload"*:
   x = the center's mediators and judges (active accounts with role mediator or judge in the
   center office, counted now) ÷ the court's whole judicial staff (``COURTLINK_JUDICIAL_STAFF``:
   all judges and judge assistants, with or without an account here); y = civil cases the
   center resolved by mediation (any stage) or by a fast-track decision (outcomes
   ``mediated_*`` and ``adjudicated``) ÷ civil cases. x is court-wide even for one office.

**Also:** counts of the cases by current stage and by outcome (``pending`` = no outcome yet);
the *average working days to resolution* over cases resolved by mediation or decision
(working days on the official calendar after the registration date up to and including the
resolution date); *fast-track decided within 5 working days* = fast-track cases that ended in
a decision or a mediation in fast-track (outcomes ``adjudicated``, ``mediated_fast_track``)
on or before their deadline, and their share of all such cases; and per month of the report
year, the cases registered and the cases resolved (mediated or decided) in that month.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from server import access
from server.accounts import office_by_code
from server.context import Context
from server.desk.figures import Reception, reception, unregistered
from server.docket.stages import (
    MEDIATED_OUTCOMES,
    OUTCOME_ADJUDICATED,
    OUTCOME_MEDIATED_FAST_TRACK,
    OUTCOME_MEDIATED_PRE_LITIGATION,
    OUTCOME_MEDIATED_PRETRIAL,
    OUTCOME_WITHDRAWN,
)
from server.errors import Forbidden
from server.models.accounts import Office, Role, User
from server.models.docket import Case, Stage
from server.workdays import WorkCalendar

PENDING = "pending"
OUTCOMES = (
    OUTCOME_MEDIATED_PRE_LITIGATION,
    OUTCOME_MEDIATED_PRETRIAL,
    OUTCOME_MEDIATED_FAST_TRACK,
    OUTCOME_ADJUDICATED,
    OUTCOME_WITHDRAWN,
    PENDING,
)
RESOLVED_BY_CENTER = MEDIATED_OUTCOMES | {OUTCOME_ADJUDICATED}
FAST_TRACK_DECIDED = frozenset({OUTCOME_ADJUDICATED, OUTCOME_MEDIATED_FAST_TRACK})


def percent(part: int, whole: int) -> Decimal | None:
    """``part / whole`` as a percentage rounded half-up to 0.01; None when ``whole`` is 0."""
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_UP)


@dataclass
class Report:
    year: int
    office: str | None  # office code, None = all offices
    cases: int = 0
    by_stage: dict[str, int] = field(default_factory=dict)
    by_outcome: dict[str, int] = field(default_factory=dict)
    civil_cases: int = 0
    civil_trial_cases: int = 0
    pretrial_mediated: int = 0
    pre_litigation_mediated: int = 0
    center_staff: int = 0
    judicial_staff: int = 0
    resolved_by_center: int = 0
    resolved_with_days: int = 0
    average_workdays: Decimal | None = None
    # Years whose working days were counted on the provisional calendar (server.workdays).
    provisional_years: list[int] = field(default_factory=list)
    fast_track_decided: int = 0
    fast_track_in_time: int = 0
    registered_by_month: list[int] = field(default_factory=lambda: [0] * 12)
    resolved_by_month: list[int] = field(default_factory=lambda: [0] * 12)
    # The duty desk's calls in the year (server.desk.figures), of the office or all.
    reception: Reception | None = None

    @property
    def pretrial_share(self) -> Decimal | None:
        return percent(self.pretrial_mediated, self.civil_trial_cases)

    @property
    def pre_litigation_share(self) -> Decimal | None:
        return percent(self.pre_litigation_mediated, self.civil_cases)

    @property
    def resources_share(self) -> Decimal | None:
        return percent(self.center_staff, self.judicial_staff)

    @property
    def workload_share(self) -> Decimal | None:
        return percent(self.resolved_by_center, self.civil_cases)

    @property
    def fast_track_in_time_share(self) -> Decimal | None:
        return percent(self.fast_track_in_time, self.fast_track_decided)


def year_bounds(year: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants at which the court-local year starts and ends."""
    start = datetime(year, 1, 1, tzinfo=tz).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=tz).astimezone(UTC)
    return start, end


async def center_staff(ctx: Context) -> int:
    """Active mediators and judges of the center office: the center's judicial resources."""
    count = await ctx.db.scalar(
        select(func.count())
        .select_from(User)
        .join(Office, User.office_id == Office.id)
        .where(
            Office.is_center.is_(True),
            User.active.is_(True),
            User.role.in_([Role.MEDIATOR.value, Role.JUDGE.value]),
        )
    )
    return int(count or 0)


async def build_report(ctx: Context, *, year: int, office: Office | None) -> Report:
    """Count one year's cases (of one office, or all) into a ``Report``: registration and
    resolution days in the court's time zone, working days on ``ctx.calendar``, the judicial
    staff from the settings."""
    tz, calendar = ctx.tz, ctx.calendar
    start, end = year_bounds(year, tz)
    stmt = select(
        Case.stage,
        Case.outcome,
        Case.was_pre_litigation,
        Case.was_filed,
        Case.created_at,
        Case.resolved_at,
        Case.fast_track_deadline,
    ).where(Case.created_at >= start, Case.created_at < end)
    if office is not None:
        stmt = stmt.where(Case.office_id == office.id)
    stmt = stmt.where(~unregistered(advice=True))
    report = Report(year=year, office=office.code if office else None)
    report.by_stage = {s.value: 0 for s in Stage}
    report.by_outcome = dict.fromkeys(OUTCOMES, 0)
    report.judicial_staff = ctx.settings.judicial_staff
    report.center_staff = await center_staff(ctx)
    total_days = 0
    for stage, outcome, pre_lit, filed, created, resolved, deadline in await ctx.db.execute(stmt):
        report.cases += 1
        report.by_stage[stage] = report.by_stage.get(stage, 0) + 1
        key = outcome or PENDING
        report.by_outcome[key] = report.by_outcome.get(key, 0) + 1
        registered_on = created.astimezone(tz).date()
        report.registered_by_month[registered_on.month - 1] += 1
        if not (pre_lit or filed):
            continue
        report.civil_cases += 1
        report.civil_trial_cases += bool(filed)
        report.pretrial_mediated += outcome == OUTCOME_MEDIATED_PRETRIAL
        report.pre_litigation_mediated += outcome == OUTCOME_MEDIATED_PRE_LITIGATION
        if outcome not in RESOLVED_BY_CENTER or resolved is None:
            continue
        report.resolved_by_center += 1
        resolved_on = resolved.astimezone(tz).date()
        if resolved_on.year == year:
            report.resolved_by_month[resolved_on.month - 1] += 1
        if outcome in FAST_TRACK_DECIDED and deadline is not None:
            report.fast_track_decided += 1
            report.fast_track_in_time += resolved_on <= deadline
        days = _workdays(calendar, registered_on, resolved_on, report)
        if days is not None:
            total_days += days
            report.resolved_with_days += 1
    report.reception = await reception(ctx, start, end, office)
    if report.resolved_with_days:
        report.average_workdays = (Decimal(total_days) / report.resolved_with_days).quantize(
            Decimal("0.1"), ROUND_HALF_UP
        )
    return report


def _workdays(calendar: WorkCalendar, start: date, end: date, report: Report) -> int | None:
    # A year no official schedule covers yet is counted on the provisional calendar; the
    # page says which years the average rests on provisionally.
    if calendar.span_provisional(start, end):
        years = set(report.provisional_years) | set(range(start.year, end.year + 1))
        report.provisional_years = calendar.provisional_years(years)
    return calendar.workdays_between(start, end)


async def report_for(ctx: Context, *, year: int | None, office_code: str | None) -> Report:
    """The report the user asked for (``year`` None: this court-local year), if they may see
    it: whoever may not see the whole court's figures gets their own office's by default, and
    a 403 for any other office."""
    user = ctx.require_user()
    office = await office_by_code(ctx, office_code) if office_code else None
    if office is None and not access.can_view_report(user, None):
        office = user.office
    if not access.can_view_report(user, office.id if office else None):
        raise Forbidden("office staff see their own office's report only", code="report_forbidden")
    return await build_report(ctx, year=year or ctx.today().year, office=office)
