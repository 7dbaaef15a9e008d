"""The case page's POST forms: stage moves, consents, assignment, parties, case details.

Each handler validates the form with the docket's own input models and calls the one
``server.docket`` function for it; success redirects back to the case page (303), failure
re-renders the case page with the reason and the error's status (an illegal move is 409).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server import access, docket
from server.docket_schemas import (
    AssignIn,
    CaseUpdate,
    ConsentIn,
    PartyIn,
    PartyUpdate,
    TransitionIn,
)
from server.errors import AppError, Invalid, parse_model
from server.intake import parse_yuan
from server.models.docket import Case
from server.pages.case_pages import MAX_ID, case_id_of, render_case_error
from server.pages.form_errors import form_values
from server.web.auth import require_user
from server.web.http import see_other
from server.web.keys import CALENDAR, DB, SETTINGS

PARTY_FIELDS = ("side", "kind", "name", "id_number", "phone", "email", "address", "representative")


def _case_url(request: web.Request, case_id: int, anchor: str = "") -> str:
    return str(request.app.router["case"].url_for(case_id=str(case_id))) + anchor


async def _load(request: web.Request) -> tuple[int, Case]:
    user = require_user(request)
    case_id = case_id_of(request)
    return case_id, await access.load_case_for(request[DB], user, case_id)


async def move(request: web.Request) -> web.StreamResponse:
    case_id, case = await _load(request)
    values = await form_values(request)
    try:
        data = parse_model(
            TransitionIn, {"to": values.get("to", ""), "note": values.get("note", "")}
        )
        await docket.transition(
            request[DB],
            require_user(request),
            case,
            data.to,
            note=data.note,
            today=docket.local_today(request.app[SETTINGS].tz),
            calendar=request.app[CALENDAR],
            request=request,
        )
    except AppError as exc:
        return await render_case_error(request, case_id, exc, values)
    return see_other(_case_url(request, case_id, "#stage"))


async def consent(request: web.Request) -> web.StreamResponse:
    case_id, case = await _load(request)
    values = await form_values(request)
    try:
        answer = values.get("consents")
        data = parse_model(
            ConsentIn,
            {
                "party_id": values.get("party_id", ""),
                "consents": {"yes": True, "no": False}.get(answer or "", answer),
                "note": values.get("note", ""),
            },
        )
        await docket.record_consent(
            request[DB],
            require_user(request),
            case,
            data.party_id,
            data.consents,
            data.note,
            request,
        )
    except AppError as exc:
        return await render_case_error(request, case_id, exc, values)
    return see_other(_case_url(request, case_id, "#parties"))


async def assign(request: web.Request) -> web.StreamResponse:
    case_id, case = await _load(request)
    values = await form_values(request)
    roles = ("mediator", "judge", "clerk")
    try:
        # An empty choice clears that role; a sent id sets it (AssignIn checks the ids).
        data = parse_model(
            AssignIn, {f"{r}_id": values[f"{r}_id"] for r in roles if values.get(f"{r}_id")}
        )
        await docket.assign(
            request[DB],
            require_user(request),
            case,
            mediator_id=data.mediator_id,
            judge_id=data.judge_id,
            clerk_id=data.clerk_id,
            clear=tuple(r for r in roles if f"{r}_id" in values and not values[f"{r}_id"]),
            request=request,
        )
    except AppError as exc:
        return await render_case_error(request, case_id, exc, values)
    return see_other(_case_url(request, case_id, "#assignment"))


async def add_party(request: web.Request) -> web.StreamResponse:
    case_id, case = await _load(request)
    values = await form_values(request)
    try:
        fields: dict[str, Any] = {f: values.get(f, "") for f in PARTY_FIELDS if f in values}
        if values.get("consent") in ("yes", "no"):
            fields["consent"] = values["consent"] == "yes"
        data = parse_model(PartyIn, fields)
        await docket.add_party(request[DB], require_user(request), case, data, request)
    except AppError as exc:
        return await render_case_error(request, case_id, exc, values)
    return see_other(_case_url(request, case_id, "#parties"))


async def edit_party(request: web.Request) -> web.StreamResponse:
    case_id, case = await _load(request)
    user = require_user(request)
    values = await form_values(request)
    try:
        party_id = min(int(request.match_info["party_id"]), MAX_ID)
        fields: dict[str, Any] = {f: values[f] for f in PARTY_FIELDS if f in values}
        # Someone shown only the masked number leaves the field empty to keep it.
        if not fields.get("id_number") and not access.can_see_identity(user, case):
            fields.pop("id_number", None)
        data = parse_model(PartyUpdate, fields)
        await docket.update_party(request[DB], user, case, party_id, data, request)
    except AppError as exc:
        return await render_case_error(request, case_id, exc, values)
    return see_other(_case_url(request, case_id, "#parties"))


async def edit_case(request: web.Request) -> web.StreamResponse:
    case_id, case = await _load(request)
    values = await form_values(request)
    try:
        try:
            claim_fen = parse_yuan(values.get("claim_yuan", ""))
        except ValueError as exc:
            raise Invalid(
                str(exc), details=[{"field": "claim_fen", "message": f"Value error, {exc}"}]
            ) from None
        data = parse_model(
            CaseUpdate,
            {
                "cause": values.get("cause", ""),
                "facts": values.get("facts", ""),
                "claim_fen": claim_fen,
                "version": values.get("version") or None,
            },
        )
        await docket.update_case(request[DB], require_user(request), case, data, request)
    except AppError as exc:
        return await render_case_error(request, case_id, exc, values)
    return see_other(_case_url(request, case_id, "#details"))
