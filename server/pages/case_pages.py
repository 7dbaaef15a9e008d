"""The case page: details, parties (ID numbers masked unless ``access.can_see_identity``),
consents, assignment, the timeline, the fast-track deadline with its badge, and a button for
exactly each next stage the viewer may move the case to.

The POST forms live in ``case_actions``; when one fails (an illegal move is a 409, bad input
a 422) it re-renders this page with the problem stated, through ``render_case_error``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server import access, docket
from server.api.case_paths import case_for_request
from server.api.documents import CaseDocumentOut, document_out
from server.context import Actor
from server.docket import documents
from server.docket.schemas import DocketEntryOut
from server.docket.stages import CONSENT_REQUIRED, STAGE_LABELS
from server.errors import AppError
from server.models.accounts import User
from server.models.docket import Case
from server.pages.form_errors import Gettext, error_lines
from server.web.auth import require_user
from server.web.errors import status_of
from server.web.http import render, template_context
from server.web.keys import CTX, USER
from server.web.params import path_id

SIDES = {"applicant": "Applicant", "respondent": "Respondent"}
KINDS = {"person": "Person", "organisation": "Organisation"}
SOURCES = {"court": "Registered at the court", "office": "Street office", "online": "Online"}
ENTRY_KINDS = {
    "created": "Registered",
    "transition": "Stage changed",
    "consent": "Consent recorded",
    "party_added": "Party added",
    "party_updated": "Party details changed",
    "assigned": "Assignment changed",
    "updated": "Case details changed",
    "recording": "Session recording",
    "recording_alarm": "Recording stopped by itself",
    "deadline": "Deadline recounted",
    "mail": "E-mail received",
    "booked": "Session booked",
    "booking_moved": "Booking moved",
    "booking_cancelled": "Booking cancelled",
    "call_attached": "Desk call joined to this case",
}
BOOKING_KINDS = ("booked", "booking_moved", "booking_cancelled")
# Who an entry without a person is by: online intake is a resident; an alarm or a deadline
# recounted when a year's calendar became official is the server; mail from an office's
# address (no account) came in through the case mailbox.
NO_ACTOR = {"recording_alarm": "The system", "deadline": "The system", "mail": "Case mailbox"}
RECORDING_ALARMS = {
    "disk_full": "the disk for recordings is full",
    "write_error": "the recording could not be written",
}
FIELD_NAMES = {
    "cause": "Cause of action",
    "facts": "Facts",
    "claim_fen": "Claim (yuan)",
    "mediator_id": "Mediator",
    "judge_id": "Judge",
    "clerk_id": "Clerk",
    "name": "Name",
    "side": "Side",
    "kind": "Kind",
    "id_number": "ID number",
    "phone": "Phone",
    "email": "E-mail",
    "address": "Address",
    "representative": "Representative",
}


def stage_name(stage: str | None, _: Gettext) -> str:
    return _(STAGE_LABELS.get(stage or "", stage or ""))


def _entry_line(entry: DocketEntryOut, party_names: dict[int, str], _: Gettext) -> str:
    """What happened, in the reader's language (the stored ``text`` is English)."""
    data = entry.data or {}
    party = party_names.get(int(str(data.get("party_id", 0) or 0)), "")
    if entry.kind == "transition":
        line = f"{stage_name(entry.from_stage, _)} → {stage_name(entry.to_stage, _)}"
        if data.get("number"):
            line += f"{_(', number ')}{data['number']}"
        if data.get("deadline"):
            line += f"{_(', deadline ')}{data['deadline']}"
            if data.get("provisional"):
                line += _("(provisional)")
        return line
    if entry.kind == "deadline":
        mark = _("(provisional)") if data.get("provisional") else ""
        return f"{data.get('from', '')} → {data.get('to', '')}{mark}"
    if entry.kind == "consent":
        answer = _("agrees to mediate") if data.get("consents") else _("declines to mediate")
        return f"{party}{_(': ')}{answer}"
    if entry.kind in ("party_added", "party_updated"):
        return f"{_(SIDES.get(str(data.get('side', '')), ''))} {party}".strip()
    if entry.kind in ("assigned", "updated") or "changes" in data:
        changes = data.get("changes") or {}
        return "、".join(_(FIELD_NAMES.get(str(k), str(k))) for k in changes)
    if entry.kind == "created":
        return _(SOURCES.get(str(data.get("source", "")), ""))
    if entry.kind in ("recording", "recording_alarm"):
        return _recording_line(entry, _)
    if entry.kind == "mail":  # its text, what the sender wrote, is the entry's note
        return f"{data.get('sender', '')}{_(': ')}{data.get('subject', '')}"
    if entry.kind in BOOKING_KINDS:
        # The text begins with the session's local time and host (no words to translate);
        # after it comes the English "from ...: reason", shown from the data instead.
        line = entry.text.split("; ", 1)[0]
        if data.get("moved_from"):
            line += f"{_(', moved from ')}{data['moved_from']}"
        return line
    return entry.text


def _recording_line(entry: DocketEntryOut, _: Gettext) -> str:
    # The stored text is the recordings subsystem's English ("recording started (session
    # 3)", "recording stopped: disk_full"); the reader gets their language and the session.
    data = entry.data or {}
    session = f"{_('Session')} #{data.get('session_id', '')}"
    if entry.kind == "recording_alarm":
        reason = RECORDING_ALARMS.get(entry.text.rsplit(": ", 1)[-1], entry.text)
        return f"{session}{_(': ')}{_(reason)}"
    started = data.get("active", entry.text.startswith("recording started"))
    return f"{session}{_(': ')}{_('Recording started') if started else _('Recording stopped')}"


def timeline_rows(
    entries: list[DocketEntryOut], party_names: dict[int, str], _: Gettext
) -> list[dict[str, Any]]:
    return [
        {
            "at": e.at,
            "who": e.actor.display_name
            if e.actor
            else _(NO_ACTOR.get(e.kind, "Resident (online)")),
            "what": _(ENTRY_KINDS.get(e.kind, e.kind)),
            "line": _entry_line(e, party_names, _),
            # A transition's note is what the person typed, a mail's what its sender wrote,
            # a booking's the reason given for its move or cancelling; other texts are
            # system English.
            "note": e.text
            if e.kind in ("transition", "mail")
            else str((e.data or {}).get("reason", "")),
        }
        for e in entries
    ]


async def _people(request: web.Request) -> dict[str, list[User]]:
    people: dict[str, list[User]] = {"mediator": [], "judge": [], "clerk": []}
    for person in await docket.assignable_people(request[CTX]):
        people[person.role].append(person)
    return people


async def case_context(request: web.Request, user: User, case: Case) -> dict[str, Any]:
    ctx = request[CTX]
    _ = template_context(request)["_"]
    out = await docket.case_detail(ctx, case)
    due = await docket.due_soon_cases(ctx)
    can_assign = access.can_assign(user, case)
    moves = [(m, STAGE_LABELS[m], m in CONSENT_REQUIRED) for m in out.allowed_moves]
    return {
        "case": case,
        "out": out,
        "row": {"overdue": out.overdue, "due_soon": any(c.id == case.id for c in due)},
        "c": case,
        "moves": moves,
        "consent_hint": any(m[2] for m in moves) and not out.consent_complete,
        "timeline": timeline_rows(out.timeline, {p.id: p.name for p in out.parties}, _),
        "can_edit": access.can_edit_case(user, case),
        "can_assign": can_assign,
        "people": await _people(request) if can_assign else {},
        "sides": SIDES,
        "kinds": KINDS,
        "sources": SOURCES,
        "documents": await _documents(request, user, case),
        "errors": [],
        "values": {},
    }


async def _documents(request: web.Request, user: User, case: Case) -> list[CaseDocumentOut]:
    """The case file's rows for the page (its API's shape), if the user may see them."""
    if not access.can_view_documents(user, case):
        return []
    ctx = request[CTX]
    return [await document_out(ctx.db, d) for d in await documents.documents_of(ctx, case)]


def move_error_lines(exc: AppError, _: Gettext) -> list[str]:
    """The stage machine's refusals in the reader's language, naming the allowed moves."""
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.code == "illegal_transition":
        allowed = "、".join(stage_name(s, _) for s in details.get("allowed", [])) or _("none")
        return [
            _("A case in stage “%(from)s” cannot move to “%(to)s”. Allowed: %(allowed)s.")
            % {
                "from": stage_name(details.get("from"), _),
                "to": stage_name(details.get("to"), _),
                "allowed": allowed,
            }
        ]
    if exc.code == "consent_required":
        return [
            _("Mediation needs every party's recorded consent first (applicants and respondents).")
        ]
    if exc.code == "move_forbidden":
        return [_("Your role may not make this move.")]
    if exc.code == "stale_version":
        return [_("Someone else changed this case meanwhile; the page now shows their version.")]
    return error_lines(exc, {**FIELD_NAMES, "party_id": "Party", "to": "Stage"}, _)


async def reload_after_error(request: web.Request) -> tuple[User, Case]:
    """Undo whatever the failed change began and load the stored state afresh to show it:
    the request's user is reloaded too, for the page and for the context's actor."""
    ctx = request[CTX]
    user_id = require_user(request).id
    await ctx.db.rollback()
    ctx.db.expunge_all()
    user = await ctx.db.get(User, user_id)
    assert user is not None
    request[USER] = user
    ctx.actor = Actor.for_user(user, ctx.actor.address)
    return user, await case_for_request(request)


async def render_case_error(
    request: web.Request, exc: AppError, values: dict[str, str] | None = None
) -> web.Response:
    """The case page again, with why the change failed, in the error's status."""
    user, case = await reload_after_error(request)
    view = await case_context(request, user, case)
    view["errors"] = move_error_lines(exc, template_context(request)["_"])
    view["values"] = values or {}
    return render(request, "case.html", view, status=status_of(exc))


def case_url(request: web.Request, anchor: str = "") -> str:
    """The case page of the path's case (where a form's success redirects to)."""
    case_id = str(path_id(request, "case_id"))
    return str(request.app.router["case"].url_for(case_id=case_id)) + anchor


async def case_page(request: web.Request) -> web.Response:
    user = require_user(request)
    case = await case_for_request(request)
    return render(request, "case.html", await case_context(request, user, case))
