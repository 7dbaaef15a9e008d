"""Online reception pages (网上接待): the public dispute form, its receipt, and tracking.

No login is needed. Office staff who are logged in submit on a resident's behalf (their own
office is preselected, and the case is marked as received at the office). The tracking page
shows only the stage in plain words, never a party's details.
"""

from __future__ import annotations

from typing import Any, TypeGuard

from aiohttp import web

from server import access
from server.docket import intake
from server.errors import Invalid, NotFound, TooManyRequests, parse_model
from server.i18n import DEFAULT_LANG
from server.models.accounts import User
from server.pages.form_errors import error_lines, form_values
from server.web.errors import status_of, worded
from server.web.http import render, see_other, template_context
from server.web.keys import CATALOGS, CTX, LANG

LABELS = {
    "applicant": "Applicant",
    "applicant.name": "Applicant's name",
    "applicant.phone": "Applicant's phone",
    "applicant.id_number": "Applicant's ID number",
    "applicant.address": "Applicant's address",
    "respondent": "Respondent",
    "respondent.name": "Respondent's name",
    "respondent.phone": "Respondent's phone",
    "respondent.id_number": "Respondent's ID number",
    "respondent.address": "Respondent's address",
    "cause": "Kind of dispute",
    "facts": "What happened",
    "claim_yuan": "Claim (yuan)",
    "consent_to_mediate": "Agree to mediate",
    "office": "Street office",
}

# What each stage means to a resident, in plain words.
STAGE_EXPLAINED = {
    "intake": "Received. The court's mediation center will review it and contact you.",
    "pre_litigation_mediation": "A mediator is organising mediation before any lawsuit.",
    "filed": "The case has been filed with the court.",
    "pretrial_mediation": "The court is mediating before the hearing.",
    "fast_track": "The fast-track tribunal is deciding the case under the simplified procedure.",
    "mediated": "The parties reached a mediation agreement.",
    "judicial_confirmation": "The court has confirmed the mediation agreement.",
    "adjudicated": "The fast-track tribunal has decided the case.",
    "withdrawn": "The dispute was withdrawn.",
    "closed": "The file is closed.",
}

COMMON_CAUSES = (
    "Loan dispute",
    "Neighbour dispute",
    "Tenancy dispute",
    "Labour remuneration dispute",
    "Property service contract dispute",
    "Sale contract dispute",
    "Traffic accident dispute",
    "Family dispute",
)


def _nested(values: dict[str, str]) -> dict[str, Any]:
    """The flat form (applicant_name, ...) as the nested shape ``IntakeIn`` expects."""
    data: dict[str, Any] = {"applicant": {}, "respondent": {}}
    for side in ("applicant", "respondent"):
        for field in ("name", "phone", "id_number", "address"):
            data[side][field] = values.get(f"{side}_{field}", "")
    for field in ("cause", "facts", "claim_yuan", "office"):
        data[field] = values.get(field, "")
    consent = values.get("consent_to_mediate")
    if consent in ("yes", "no"):
        data["consent_to_mediate"] = consent == "yes"
    return data


def _own_office_only(user: User | None) -> TypeGuard[User]:
    # Office staff register disputes for their own office only (server.access).
    return user is not None and not access.can_see_every_office(user)


async def _form_context(request: web.Request, values: dict[str, str]) -> dict[str, Any]:
    ctx = request[CTX]
    offices = await intake.street_offices(ctx)
    user = ctx.user
    if _own_office_only(user):
        offices = [o for o in offices if access.can_create_case(user, o.id)]
    return {"offices": offices, "values": values, "causes": COMMON_CAUSES, "errors": []}


async def intake_form(request: web.Request) -> web.Response:
    values: dict[str, str] = {}
    user = request[CTX].user
    if _own_office_only(user):
        values["office"] = user.office.code
    return render(request, "intake.html", await _form_context(request, values))


async def intake_submit(request: web.Request) -> web.StreamResponse:
    values = await form_values(request)
    try:
        data = parse_model(intake.IntakeIn, _nested(values))
        case = await intake.submit(request[CTX], data)
    except (Invalid, TooManyRequests) as exc:
        # An error status rolls the request's session back: nothing is kept. The form comes
        # back filled in, with the problems named.
        view = await _form_context(request, values)
        view["errors"] = error_lines(exc, LABELS, template_context(request)["_"])
        return render(request, "intake.html", view, status=status_of(exc))
    assert case.tracking_code is not None
    return see_other(str(request.app.router["intake_done"].url_for(code=case.tracking_code)))


async def intake_done(request: web.Request) -> web.Response:
    code = intake.normalize_code(request.match_info["code"])
    if code is None:
        raise NotFound("no dispute has this tracking code", code="tracking_code_not_found")
    return render(request, "intake_done.html", {"code": intake.format_code(code), "raw": code})


async def intake_track(request: web.Request) -> web.Response:
    raw = request.query.get("code", "").strip()
    view: dict[str, Any] = {"query": raw, "found": None, "error": None}
    if not raw:
        return render(request, "intake_track.html", view)
    try:
        case = await intake.lookup(request[CTX], raw)
    except (NotFound, TooManyRequests) as exc:
        view["error"] = worded(request, exc)
        return render(request, "intake_track.html", view, status=status_of(exc))
    lang = request.get(LANG, DEFAULT_LANG)
    found = intake.status_of(case, lang, request.app[CATALOGS].gettext(lang))
    view["found"] = found
    view["code"] = intake.format_code(found.tracking_code)
    view["explained"] = STAGE_EXPLAINED.get(case.stage, "")
    return render(request, "intake_track.html", view)
