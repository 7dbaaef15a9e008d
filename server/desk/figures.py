"""Reception figures (接访): how the duty desk answered the street offices' calls in a
period, per office and in all: calls, answered within the target, the median wait before an
answer, the calls that became (or joined) a case, the missed ones and how many of those were
called back. Shown on the reports page and in the reports API beside the mediation shares.
Also which cases a call holds with no dispute registered in them (``unregistered``): not
counted as cases, and marked on the docket list."""

from __future__ import annotations

import statistics
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, exists, or_, select

from server.context import Context
from server.models.accounts import Office
from server.models.desk import CallOutcome, CallStatus, DeskCall
from server.models.docket import Case

# The center's standard: a call is answered within 30 s (the roster's first period by
# default). Fixed here, not read from ``desk_ring_seconds``, so that a figure keeps its
# meaning when the ring is tuned.
ANSWER_TARGET_S = 30
UNANSWERED = (CallStatus.MISSED, CallStatus.CANCELLED)
TO_CASE = (CallOutcome.CASE, CallOutcome.ATTACHED)


@dataclass
class OfficeReception:
    office: str | None  # the office's code; None: every office
    name_zh: str = ""
    name_en: str = ""
    calls: int = 0
    answered: int = 0
    answered_in_time: int = 0
    median_answer_s: float | None = None
    became_cases: int = 0
    missed: int = 0  # nobody answered, or the office gave up waiting
    called_back: int = 0  # of the missed
    waits: list[float] = field(default_factory=list, repr=False)

    def add(self, call: DeskCall) -> None:
        self.calls += 1
        if call.answered_at is not None:
            wait = (call.answered_at - call.called_at).total_seconds()
            self.answered += 1
            self.answered_in_time += wait <= ANSWER_TARGET_S
            self.waits.append(wait)
        self.became_cases += call.outcome in TO_CASE
        if call.status in UNANSWERED:
            self.missed += 1
            self.called_back += call.called_back_at is not None

    def close(self) -> None:
        if self.waits:
            self.median_answer_s = round(statistics.median(self.waits), 1)


@dataclass
class Reception:
    total: OfficeReception
    offices: list[OfficeReception]


async def reception(
    ctx: Context, start: datetime, end: datetime, office: Office | None = None
) -> Reception:
    """The calls placed in [start, end), of ``office`` or every street office."""
    query = select(DeskCall).where(DeskCall.called_at >= start, DeskCall.called_at < end)
    offices_query = select(Office).where(Office.is_center.is_(False)).order_by(Office.id)
    if office is not None:
        query = query.where(DeskCall.office_id == office.id)
        offices_query = offices_query.where(Office.id == office.id)
    rows = {
        o.id: OfficeReception(o.code, o.name_zh, o.name_en)
        for o in await ctx.db.scalars(offices_query)
    }
    total = OfficeReception(None)
    for call in await ctx.db.scalars(query):
        total.add(call)
        if call.office_id in rows:
            rows[call.office_id].add(call)
    for row in [total, *rows.values()]:
        row.close()
    return Reception(total, list(rows.values()))


def unregistered(*, advice: bool) -> ColumnElement[bool]:
    """Whether a case (``Case.id``) is a desk call's reception case with no dispute
    registered in it: the call is on (or ended and not yet swept), and with ``advice`` also a
    call that ended as advice only (its case withdrawn). An answered call opens its case at
    once, so this is the one test of which such cases are no filing."""
    held: ColumnElement[bool] = DeskCall.outcome.is_(None)
    if advice:
        held = or_(held, DeskCall.outcome == CallOutcome.ADVICE)
    return exists().where(DeskCall.case_id == Case.id, held)


async def on_call(ctx: Context, case_ids: Collection[int]) -> set[int]:
    """Which of ``case_ids`` a call holds with nothing registered yet (``unregistered``)."""
    if not case_ids:
        return set()
    rows = await ctx.db.scalars(
        select(Case.id).where(Case.id.in_(list(case_ids)), unregistered(advice=False))
    )
    return set(rows)
