"""The reports page (``/reports?year=&office=``) with its charts, and ``/reports.csv``.

The figures come from ``server.reports`` (where each is defined); this module only lays them
out in the reader's language. The CSV is UTF-8 with a byte-order mark, so that Excel opens
the Chinese labels correctly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiohttp import web
from markupsafe import Markup

from server import access, docket, svgcharts
from server.api.reports import requested_report
from server.docket.stages import (
    OUTCOME_ADJUDICATED,
    OUTCOME_MEDIATED_FAST_TRACK,
    OUTCOME_MEDIATED_PRE_LITIGATION,
    OUTCOME_MEDIATED_PRETRIAL,
    OUTCOME_WITHDRAWN,
    STAGE_LABELS,
)
from server.reports import OUTCOMES, Report
from server.web.auth import require_user
from server.web.http import gettext_of, render
from server.web.keys import CTX, LANG

Gettext = Callable[[str], str]


def outcome_labels(_: Gettext) -> dict[str, str]:
    return {
        OUTCOME_MEDIATED_PRE_LITIGATION: _("Mediated before filing"),
        OUTCOME_MEDIATED_PRETRIAL: _("Mediated in pretrial mediation"),
        OUTCOME_MEDIATED_FAST_TRACK: _("Mediated in fast-track"),
        OUTCOME_ADJUDICATED: _("Decided in fast-track"),
        OUTCOME_WITHDRAWN: _("Withdrawn"),
        "pending": _("Pending"),
    }


def _num(value: float | None) -> str:
    return "–" if value is None else str(value)


def _pct(value: Decimal | None) -> str:
    return "–" if value is None else f"{value}%"


def figures(report: Report, _: Gettext) -> list[tuple[str, str]]:
    """The report as (label, value) rows: the CSV, and the page's tables, in one order."""
    rows: list[tuple[str, str]] = [
        (_("Year"), str(report.year)),
        (_("Office"), report.office or _("All offices")),
        (_("Cases registered"), str(report.cases)),
        (_("Civil cases"), str(report.civil_cases)),
        (_("Civil trial cases (filed)"), str(report.civil_trial_cases)),
        (_("Pretrial-mediated cases"), str(report.pretrial_mediated)),
        (_("Pretrial-mediated share of civil trial cases"), _pct(report.pretrial_share)),
        (_("Pre-litigation-mediated cases"), str(report.pre_litigation_mediated)),
        (_("Pre-litigation-mediated share of all civil cases"), _pct(report.pre_litigation_share)),
        (_("The center's mediators and judges"), str(report.center_staff)),
        (_("The court's judicial staff"), str(report.judicial_staff)),
        (_("Share of judicial resources"), _pct(report.resources_share)),
        (_("Civil cases resolved by the center"), str(report.resolved_by_center)),
        (_("Share of the civil workload"), _pct(report.workload_share)),
        (
            _("Average working days to resolution"),
            "–" if report.average_workdays is None else str(report.average_workdays),
        ),
        (_("Fast-track cases decided"), str(report.fast_track_decided)),
        (_("Decided within 5 working days"), str(report.fast_track_in_time)),
        (_("Share decided within 5 working days"), _pct(report.fast_track_in_time_share)),
    ]
    if report.reception is not None:
        desk = report.reception.total
        rows += [
            (_("Calls to the duty desk"), str(desk.calls)),
            (_("Answered within 30 s"), str(desk.answered_in_time)),
            (_("Median wait before an answer (s)"), _num(desk.median_answer_s)),
            (_("Calls that became cases"), str(desk.became_cases)),
            (_("Missed calls"), str(desk.missed)),
            (_("Missed calls called back"), str(desk.called_back)),
        ]  # fmt: skip
    colon = _(": ")
    rows += [(_("Stage") + colon + _(STAGE_LABELS[s]), str(n)) for s, n in report.by_stage.items()]
    labels = outcome_labels(_)
    rows += [(_("Result") + colon + labels[o], str(report.by_outcome[o])) for o in OUTCOMES]
    for m in range(12):
        rows.append((_("Registered in month") + f" {m + 1}", str(report.registered_by_month[m])))
        rows.append((_("Resolved in month") + f" {m + 1}", str(report.resolved_by_month[m])))
    return rows


def charts(report: Report, _: Gettext, lang: str = "zh_CN") -> dict[str, Markup]:
    stages = [(_(STAGE_LABELS[s]), n) for s, n in report.by_stage.items()]
    labels = outcome_labels(_)
    outcomes = [(labels[o], report.by_outcome[o]) for o in OUTCOMES]
    months = [str(m) for m in range(1, 13)]
    desk = report.reception.offices if report.reception else []
    return {
        "reception": svgcharts.bar_chart(
            "chart-reception",
            _("Calls to the duty desk by office"),
            [(row.name_en if lang == "en" else row.name_zh, row.calls) for row in desk],
        ),
        "stages": svgcharts.bar_chart("chart-stages", _("Cases by current stage"), stages),
        "outcomes": svgcharts.donut_chart("chart-outcomes", _("Cases by outcome"), outcomes),
        "months": svgcharts.line_chart(
            "chart-months",
            _("Cases registered and resolved per month"),
            months,
            [
                (_("Registered"), report.registered_by_month),
                (_("Resolved"), report.resolved_by_month),
            ],
        ),
    }


async def reports_page(request: web.Request) -> web.Response:
    user = require_user(request)
    report = await requested_report(request)
    _ = gettext_of(request)
    ctx = request[CTX]
    offices = [o for o in await docket.all_offices(ctx) if access.can_view_report(user, o.id)]
    this_year = ctx.today().year
    years = sorted({*range(this_year - 4, this_year + 1), report.year}, reverse=True)
    view: dict[str, Any] = {
        "report": report,
        "charts": charts(report, _, request[LANG]),
        "outcome_labels": outcome_labels(_),
        "stage_labels": STAGE_LABELS,
        "offices": offices,
        "may_choose_all": access.can_view_report(user, None),
        "years": years,
        "csv_query": f"year={report.year}" + (f"&office={report.office}" if report.office else ""),
    }
    return render(request, "reports.html", view)


async def reports_csv(request: web.Request) -> web.Response:
    require_user(request)
    report = await requested_report(request)
    _ = gettext_of(request)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([_("Figure"), _("Value")])
    writer.writerows(figures(report, _))
    name = f"courtlink-report-{report.year}-{report.office or 'all'}.csv"
    return web.Response(
        body=("\ufeff" + buf.getvalue()).encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
