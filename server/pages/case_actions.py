"""The case page's POST forms: stage moves, consents, assignment, parties, case details.

Each handler validates the form with the docket's own input models and calls the one
``server.docket`` function for it with the request's context; success redirects back to the
case page (303), failure re-renders the case page with the reason and the error's status (an
illegal move is 409).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from server import access, docket
from server.api.case_paths import case_for_request
from server.context import Context
from server.docket.intake import parse_yuan
from server.docket.schemas import (
    AssignIn,
    CaseUpdate,
    ConsentIn,
    PartyIn,
    PartyUpdate,
    TransitionIn,
)
from server.errors import AppError, Invalid, fields_invalid, parse_model
from server.models.docket import Case
from server.pages.case_pages import case_url, render_case_error
from server.pages.form_errors import form_values
from server.web.http import see_other
from server.web.keys import CTX
from server.web.params import path_id

PARTY_FIELDS = ("side", "kind", "name", "id_number", "phone", "email", "address", "representative")

# What a form does with the case: the context, the case (which the user may see) and the form.
Change = Callable[[Context, Case, dict[str, str]], Awaitable[object]]


async def _submit(request: web.Request, change: Change, anchor: str) -> web.StreamResponse:
    """Load the case, apply ``change`` with the submitted form, and go back to the case page
    at ``anchor``; a refusal shows the case page again with the reason."""
    case = await case_for_request(request)
    values = await form_values(request)
    try:
        await change(request[CTX], case, values)
    except AppError as exc:
        return await render_case_error(request, exc, values)
    return see_other(case_url(request, anchor))


async def _move(ctx: Context, case: Case, values: dict[str, str]) -> None:
    data = parse_model(TransitionIn, {"to": values.get("to", ""), "note": values.get("note", "")})
    await docket.transition(ctx, case, data.to, note=data.note)


async def move(request: web.Request) -> web.StreamResponse:
    return await _submit(request, _move, "#stage")


async def _consent(ctx: Context, case: Case, values: dict[str, str]) -> None:
    answer = values.get("consents")
    data = parse_model(
        ConsentIn,
        {
            "party_id": values.get("party_id", ""),
            "consents": {"yes": True, "no": False}.get(answer or "", answer),
            "note": values.get("note", ""),
        },
    )
    await docket.record_consent(ctx, case, data.party_id, data.consents, data.note)


async def consent(request: web.Request) -> web.StreamResponse:
    return await _submit(request, _consent, "#parties")


_ROLES = ("mediator", "judge", "clerk")


async def _assign(ctx: Context, case: Case, values: dict[str, str]) -> None:
    # An empty choice clears that role; a sent id sets it (AssignIn checks the ids).
    data = parse_model(
        AssignIn, {f"{r}_id": values[f"{r}_id"] for r in _ROLES if values.get(f"{r}_id")}
    )
    await docket.assign(
        ctx,
        case,
        mediator_id=data.mediator_id,
        judge_id=data.judge_id,
        clerk_id=data.clerk_id,
        clear=tuple(r for r in _ROLES if f"{r}_id" in values and not values[f"{r}_id"]),
    )


async def assign(request: web.Request) -> web.StreamResponse:
    return await _submit(request, _assign, "#assignment")


async def _add_party(ctx: Context, case: Case, values: dict[str, str]) -> None:
    fields: dict[str, Any] = {f: values.get(f, "") for f in PARTY_FIELDS if f in values}
    if values.get("consent") in ("yes", "no"):
        fields["consent"] = values["consent"] == "yes"
    await docket.add_party(ctx, case, parse_model(PartyIn, fields))


async def add_party(request: web.Request) -> web.StreamResponse:
    return await _submit(request, _add_party, "#parties")


async def edit_party(request: web.Request) -> web.StreamResponse:
    async def change(ctx: Context, case: Case, values: dict[str, str]) -> None:
        party_id = path_id(request, "party_id")
        fields: dict[str, Any] = {f: values[f] for f in PARTY_FIELDS if f in values}
        # Someone shown only the masked number leaves the field empty to keep it.
        if not fields.get("id_number") and not access.can_see_identity(ctx.require_user(), case):
            fields.pop("id_number", None)
        await docket.update_party(ctx, case, party_id, parse_model(PartyUpdate, fields))

    return await _submit(request, change, "#parties")


async def _edit_case(ctx: Context, case: Case, values: dict[str, str]) -> None:
    try:
        claim_fen = parse_yuan(values.get("claim_yuan", ""))
    except ValueError as exc:
        raise fields_invalid([("claim_fen", Invalid(str(exc)))]) from None
    data = parse_model(
        CaseUpdate,
        {
            "cause": values.get("cause", ""),
            "facts": values.get("facts", ""),
            "claim_fen": claim_fen,
            "version": values.get("version") or None,
        },
    )
    await docket.update_case(ctx, case, data)


async def edit_case(request: web.Request) -> web.StreamResponse:
    return await _submit(request, _edit_case, "#details")
