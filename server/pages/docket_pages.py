"""The docket pages: the case list (search, filters, pages, the overdue and due-soon lists)
and the form that registers a new case.

All reading and writing goes through ``server.docket`` with the request's context; who sees
what through ``server.access``. This module only turns query strings and forms into those
calls.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from server import access, docket
from server.context import Context
from server.desk import figures as desk_figures
from server.docket.intake import parse_yuan
from server.docket.schemas import CaseCreate, CaseFilters
from server.docket.stages import STAGE_LABELS
from server.errors import AppError, Forbidden, Invalid, fields_invalid, parse_model
from server.models.accounts import User
from server.models.docket import Case, Stage
from server.pages.form_errors import error_lines, form_values
from server.web.auth import require_user
from server.web.errors import status_of
from server.web.http import render, see_other, template_context
from server.web.keys import CTX

PER_PAGE = 20
MAX_PARTIES = 20
PARTY_FIELDS = ("side", "kind", "name", "id_number", "phone", "address", "representative")

LABELS = {
    "cause": "Cause of action",
    "facts": "Facts",
    "claim_fen": "Claim (yuan)",
    "claim_yuan": "Claim (yuan)",
    "office": "Originating office",
    "parties": "Parties",
    "side": "Side",
    "kind": "Kind",
    "name": "Name",
    "id_number": "ID number",
    "phone": "Phone",
    "address": "Address",
    "representative": "Representative",
    "consent": "Agrees to mediate",
}


def _labels_for_parties(count: int, _: Any) -> dict[str, str]:
    out = dict(LABELS)
    for i in range(count):
        party = f"{_('Party')} {i + 1}"
        out[f"parties.{i}"] = party
        for field in (*PARTY_FIELDS, "consent"):
            out[f"parties.{i}.{field}"] = f"{party} · {_(LABELS[field])}"
    return out


def row_badges(
    cases: list[Case],
    user: User,
    today: Any,
    due_soon_ids: set[int],
    on_call: Collection[int] = (),
) -> list[dict[str, Any]]:
    """Each case with its display data: the docket's own overdue flag, the due-soon set and
    the desk calls' reception cases with nothing registered yet (``on_call``)."""
    rows = []
    for case in cases:
        out = docket.case_out(case, user, {}, today=today)
        rows.append(
            {
                "case": case,
                "out": out,
                "overdue": out.overdue,
                "due_soon": case.id in due_soon_ids,
                "on_call": case.id in on_call,
                "applicants": [p.name for p in case.parties if p.side == "applicant"],
                "respondents": [p.name for p in case.parties if p.side == "respondent"],
            }
        )
    return rows


def _page_url(request: web.Request, page: int) -> str:
    query = {k: v for k, v in request.query.items() if k not in ("page", "lang")}
    query["page"] = str(page)
    return f"{request.path}?{urlencode(query)}"


def calendar_notice(ctx: Context) -> dict[str, Any] | None:
    """For an admin: this year and next if counted provisionally, and where the official
    year file goes (``server.workdays``)."""
    today = ctx.today()
    years = ctx.calendar.provisional_years([today.year, today.year + 1])
    if not years:
        return None
    folder = ctx.calendar.override_dir
    return {"years": years, "path": str(folder / f"{years[0]}.json") if folder else ""}


async def _list_context(request: web.Request, user: User) -> dict[str, Any]:
    ctx = request[CTX]
    due = await docket.due_soon_cases(ctx)
    # The office and assignee filters are offered to those who see every office's cases.
    court_wide = access.can_see_every_office(user)
    today, calendar = ctx.today(), ctx.calendar
    return {
        "today": today,
        # The due-soon horizon (the next working day) rests on a provisional year.
        "horizon_provisional": calendar.span_provisional(today, calendar.next_workday(today)),
        "calendar_notice": calendar_notice(ctx) if access.can_manage_calendar(user) else None,
        "due_soon_cases": due,
        "due_soon_ids": {c.id for c in due},
        "due_soon_count": len(due),
        "overdue_count": len(await docket.overdue_cases(ctx)),
        "stages": [(s.value, STAGE_LABELS[s]) for s in Stage],
        "offices": await docket.all_offices(ctx) if court_wide else [],
        "people": await docket.assignable_people(ctx) if court_wide else [],
        "may_create": access.can_create_case(user, user.office_id),
    }


async def case_list(request: web.Request) -> web.Response:
    user = require_user(request)
    view = await _list_context(request, user)
    query = dict(request.query)
    query.setdefault("per_page", str(PER_PAGE))
    try:
        filters = parse_model(CaseFilters, query)
    except Invalid as exc:
        view.update(
            tab="all",
            filters=CaseFilters.model_validate({}),
            rows=[],
            page=None,
            errors=error_lines(
                exc, {"page": "Page", "stage": "Stage"}, template_context(request)["_"]
            ),
        )
        return render(request, "cases.html", view, status=422)
    result = await docket.list_cases(request[CTX], filters)
    on_call = await desk_figures.on_call(request[CTX], [c.id for c in result.items])
    view.update(
        tab="overdue" if filters.overdue else "all",
        filters=filters,
        rows=row_badges(result.items, user, view["today"], view["due_soon_ids"], on_call),
        page=result,
        prev_url=_page_url(request, result.page - 1) if result.page > 1 else None,
        next_url=_page_url(request, result.page + 1) if result.page < result.pages else None,
        errors=[],
    )
    return render(request, "cases.html", view)


async def due_soon_list(request: web.Request) -> web.Response:
    user = require_user(request)
    view = await _list_context(request, user)
    view.update(
        tab="due_soon",
        filters=CaseFilters.model_validate({}),
        rows=row_badges(view["due_soon_cases"], user, view["today"], view["due_soon_ids"]),
        page=None,
        errors=[],
    )
    return render(request, "cases.html", view)


# --- new case -----------------------------------------------------------------------------


def _party_rows(values: dict[str, str], count: int) -> list[dict[str, str]]:
    rows = []
    for i in range(count):
        row = {f: values.get(f"party-{i}-{f}", "") for f in (*PARTY_FIELDS, "consent")}
        if not row["side"]:
            row["side"] = "applicant" if i == 0 else "respondent"
        rows.append(row)
    return rows


def _party_count(values: dict[str, str]) -> int:
    try:
        count = int(values.get("party_count", "2"))
    except ValueError:
        count = 2
    return max(2, min(count, MAX_PARTIES))


async def _new_context(request: web.Request, user: User, values: dict[str, str]) -> dict[str, Any]:
    count = _party_count(values)
    offices = await docket.all_offices(request[CTX])
    offices = [o for o in offices if access.can_create_case(user, o.id)]
    values.setdefault("office", user.office.code)
    return {
        "values": values,
        "parties": _party_rows(values, count),
        "offices": offices,
        "errors": [],
    }


def _require_creator(user: User) -> None:
    if not access.can_create_case(user, user.office_id):
        raise Forbidden("your role may not register cases")


def _case_create(values: dict[str, str], count: int) -> CaseCreate:
    """The form as ``CaseCreate``; the claim typed in yuan becomes exact fen. Every problem
    is reported at once, the claim's together with the model's."""
    problems: list[tuple[str, AppError]] = []
    try:
        claim_fen = parse_yuan(values.get("claim_yuan", ""))
    except ValueError as exc:
        problems.append(("claim_yuan", Invalid(str(exc))))
        claim_fen = 0
    parties = []
    for i, row in enumerate(_party_rows(values, count)):
        if not row["name"].strip() and i >= 2:
            continue  # an extra row left empty is not a party
        party: dict[str, Any] = {f: row[f] for f in PARTY_FIELDS}
        if row["consent"] in ("yes", "no"):
            party["consent"] = row["consent"] == "yes"
        parties.append(party)
    raw = {
        "cause": values.get("cause", ""),
        "facts": values.get("facts", ""),
        "claim_fen": claim_fen,
        "office": values.get("office") or None,
        "parties": parties,
    }
    try:
        data = parse_model(CaseCreate, raw)
    except Invalid as exc:
        raise fields_invalid(problems + exc.problems) from None
    if problems:
        raise fields_invalid(problems)
    return data


BOTH_SIDES = "a case needs at least one applicant and one respondent"


def _both_sides(data: CaseCreate) -> None:
    # The form registers a dispute, which has two sides; the API may add parties later.
    sides = {p.side for p in data.parties}
    if not {"applicant", "respondent"} <= sides:
        raise Invalid(
            BOTH_SIDES, details=[{"field": "parties", "message": f"Value error, {BOTH_SIDES}"}]
        )


async def new_case_form(request: web.Request) -> web.Response:
    user = require_user(request)
    _require_creator(user)
    return render(request, "case_new.html", await _new_context(request, user, {}))


async def new_case_submit(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    _require_creator(user)
    values = await form_values(request)
    count = _party_count(values)
    if "add_party" in values:
        # "Add a party" re-shows the form with one more row; nothing is saved yet.
        values["party_count"] = str(min(count + 1, MAX_PARTIES))
        return render(request, "case_new.html", await _new_context(request, user, values))
    ctx = request[CTX]
    try:
        data = _case_create(values, count)
        _both_sides(data)
        office_id = await docket.resolve_office(ctx, data.office)
        case = await docket.create_case(ctx, data, office_id=office_id)
    except (Invalid, Forbidden) as exc:
        view = await _new_context(request, user, values)
        gettext = template_context(request)["_"]
        view["errors"] = error_lines(exc, _labels_for_parties(count, gettext), gettext)
        return render(request, "case_new.html", view, status=status_of(exc))
    return see_other(str(request.app.router["case"].url_for(case_id=str(case.id))))
