"""``GET /api/v1/reports?year=&office=``: the court's figures as JSON.

The figures and their definitions are in ``server.reports``; shares are percentages rounded
half-up to two decimals (``null`` when their denominator is 0).
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from server.api.registry import ApiRouter
from server.desk.figures import OfficeReception, Reception
from server.errors import parse_model
from server.reports import Report, percent, report_for
from server.web.auth import require_user
from server.web.http import json_ok
from server.web.keys import CTX

api = ApiRouter("reports")


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    year: int | None = Field(
        default=None, ge=2000, le=2100, description="registration year; default this year"
    )
    office: str | None = Field(
        default=None, max_length=32, description="office code; default all (office staff: own)"
    )


class ReceptionOut(BaseModel):
    office: str | None = Field(description="office code; null: every street office")
    calls: int = Field(description="calls from the office terminals to the duty desk")
    answered: int
    answered_within_30s: int
    answered_within_30s_share: float | None = Field(description="% of all calls")
    median_answer_seconds: float | None
    became_cases: int = Field(description="registered as an intake case or joined to one")
    missed: int = Field(description="nobody answered, or the office gave up waiting")
    missed_called_back: int


class ReportOut(BaseModel):
    year: int
    office: str | None = Field(description="office code, null for all offices")
    cases: int = Field(description="cases registered in the year")
    by_stage: dict[str, int]
    by_outcome: dict[str, int]
    civil_cases: int
    civil_trial_cases: int
    pretrial_mediated: int
    pre_litigation_mediated: int
    pretrial_share: float | None = Field(description="% pretrial-mediated of civil trial cases")
    pre_litigation_share: float | None = Field(description="% pre-litigation-mediated of civil")
    center_staff: int = Field(description="the center's active mediators and judges")
    judicial_staff: int = Field(description="COURTLINK_JUDICIAL_STAFF")
    resources_share: float | None
    resolved_by_center: int
    workload_share: float | None
    average_workdays: float | None
    fast_track_decided: int
    fast_track_in_time: int
    fast_track_in_time_share: float | None
    registered_by_month: list[int]
    resolved_by_month: list[int]
    reception: ReceptionOut = Field(description="the duty desk's calls, all offices together")
    reception_by_office: list[ReceptionOut]


def reception_out(row: OfficeReception) -> ReceptionOut:
    return ReceptionOut(
        office=row.office, calls=row.calls, answered=row.answered,
        answered_within_30s=row.answered_in_time,
        answered_within_30s_share=_num(percent(row.answered_in_time, row.calls)),
        median_answer_seconds=row.median_answer_s, became_cases=row.became_cases,
        missed=row.missed, missed_called_back=row.called_back,
    )  # fmt: skip


def _num(value: object) -> float | None:
    return None if value is None else float(str(value))


def report_out(report: Report) -> dict[str, object]:
    desk = report.reception or Reception(OfficeReception(None), [])
    return ReportOut(
        year=report.year,
        office=report.office,
        cases=report.cases,
        by_stage=report.by_stage,
        by_outcome=report.by_outcome,
        civil_cases=report.civil_cases,
        civil_trial_cases=report.civil_trial_cases,
        pretrial_mediated=report.pretrial_mediated,
        pre_litigation_mediated=report.pre_litigation_mediated,
        pretrial_share=_num(report.pretrial_share),
        pre_litigation_share=_num(report.pre_litigation_share),
        center_staff=report.center_staff,
        judicial_staff=report.judicial_staff,
        resources_share=_num(report.resources_share),
        resolved_by_center=report.resolved_by_center,
        workload_share=_num(report.workload_share),
        average_workdays=_num(report.average_workdays),
        fast_track_decided=report.fast_track_decided,
        fast_track_in_time=report.fast_track_in_time,
        fast_track_in_time_share=_num(report.fast_track_in_time_share),
        registered_by_month=report.registered_by_month,
        resolved_by_month=report.resolved_by_month,
        reception=reception_out(desk.total),
        reception_by_office=[reception_out(row) for row in desk.offices],
    ).model_dump(mode="json")


async def requested_report(request: web.Request) -> Report:
    """Parse ``?year=&office=`` and build the report the caller may see (page and API)."""
    require_user(request)
    # ``lang`` switches the page language; an empty selector value means "the default".
    params = {k: v for k, v in request.query.items() if k != "lang" and v != ""}
    query = parse_model(ReportQuery, params)
    return await report_for(request[CTX], year=query.year, office_code=query.office or None)


@api.route(
    "GET", "/reports", name="api_reports", summary="The court's figures for a year and office",
    query=ReportQuery, response=ReportOut, errors=(422,),
)  # fmt: skip
async def get_report(request: web.Request) -> web.Response:
    return json_ok(report_out(await requested_report(request)))
