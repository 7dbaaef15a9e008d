"""Agreement pages: the case's agreement (drafting with live preview, signatures, the
mediator's signature, the judge's confirmation, downloads), the party's signing page behind
the invite link, the clerks' list, and the public verification page with its PDF upload.

The pages call the same domain functions as the JSON API; drafting and signing post to the
API from the page's script (fetch), so there is one implementation of each rule.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from aiohttp import web
from markupsafe import Markup

from server import access
from server.agreements import clerks, confirmation, drafting, verify
from server.agreements.schemas import agreement_out
from server.api.agreement_verify import PDF_CAP
from server.docket.stages import STAGE_LABELS
from server.errors import AppError, BadRequest, NotFound, parse_model
from server.pages.invite_error import invite_error_page
from server.sessions import verify_party_invite
from server.web.auth import csrf_exempt, enter_as_party, require_user
from server.web.body import CHUNK, body_cap
from server.web.errors import worded
from server.web.http import read_body, read_capped, render, see_other
from server.web.keys import CTX, USER
from server.web.params import path_id

STATUS_LABELS = {
    "draft": "Draft",
    "sealed": "Signed and sealed",
    "confirmed": "Judicially confirmed",
}


async def case_agreement(request: web.Request) -> web.Response:
    user = require_user(request)
    db = request[CTX].db
    case = await access.load_case_for(db, user, path_id(request, "case_id"))
    agreement = await drafting.agreement_of_case(db, case.id)
    out = await agreement_out(db, agreement) if agreement else None
    version = await drafting.current_version(db, agreement) if agreement else None
    unsigned = set(out["unsigned_party_ids"]) if out else set()
    # The first version: any drafter; new terms over it: the case's own mediator.
    may_draft = (
        access.can_draft_agreement(user, case)
        if agreement is None
        else agreement.status == "draft" and access.can_rewrite_agreement(user, case)
    )
    page: dict[str, Any] = {
        "case": case,
        "agreement": out,
        "terms": version.terms["terms"] if version else {"obligations": [], "clauses": []},
        "may_draft": may_draft,
        # Who does not draft reads the current text in the page's flow, if the original is
        # theirs to read (the drafter has the live preview).
        "document_html": Markup(await drafting.document_html(request[CTX], agreement))
        if agreement is not None
        and not may_draft
        and access.can_read_agreement_original(user, case)
        else "",
        "may_sign": agreement is not None
        and agreement.status == "draft"
        and not unsigned
        and access.is_agreement_mediator(user, case, agreement.created_by_id),
        "may_confirm": agreement is not None
        and agreement.status == "sealed"
        and case.was_pre_litigation
        and access.can_confirm_agreement(user, case),
        "status_labels": STATUS_LABELS,
        "error": request.query.get("error", ""),
    }
    return render(request, "agreement_case.html", page)


async def confirm_submit(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    ctx = request[CTX]
    case = await access.load_case_for(ctx.db, user, path_id(request, "case_id"))
    agreement = await drafting.agreement_of_case(ctx.db, case.id)
    if agreement is None:
        raise NotFound("this case has no agreement yet", code="agreement_not_found")
    form = await request.post()
    await confirmation.confirm(ctx, agreement, note=str(form.get("note", ""))[:500])
    return see_other(f"/cases/{case.id}/agreement")


async def party_sign_page(request: web.Request) -> web.Response:
    ctx = request[CTX]
    db = ctx.db
    token = request.match_info["token"]
    try:
        invite, party = await verify_party_invite(ctx, token, after_end=True)
    except AppError as exc:
        # A party has no login to be sent to: say plainly that the link does not work.
        return await invite_error_page(request, token, exc)
    enter_as_party(request, party)
    case = invite.session.case
    agreement = await drafting.agreement_of_case(db, case.id)
    out = await agreement_out(db, agreement) if agreement else None
    signed = out is not None and invite.party_id not in out["unsigned_party_ids"]
    page = {
        "agreement": out,
        "party": party,
        "case": case,
        "token": token,
        "signed": signed,
        # The other parties still to sign, for the "what happens next" steps.
        "others_unsigned": [i for i in out["unsigned_party_ids"] if i != invite.party_id]
        if out
        else [],
        # The whole text in the page's own flow (no inner scroll box): the same document
        # the iframe views show, set in a shadow root so its styles stay its own.
        "document_html": Markup(await drafting.document_html(ctx, agreement)) if agreement else "",
        "status_labels": STATUS_LABELS,
        # By the party's link with no court login: the party chrome, no staff menu.
        "party_layout": request.get(USER) is None,
    }
    return render(request, "agreement_sign.html", page)


async def clerks_list(request: web.Request) -> web.Response:
    user = require_user(request)
    ctx = request[CTX]
    query = {k: v for k, v in request.query.items() if v != "" and k != "lang"}
    error = ""
    try:
        f = parse_model(clerks.AgreementFilter, query)
    except AppError as exc:
        f, error = clerks.AgreementFilter(), worded(request, exc)
    rows = await clerks.listing(ctx, f)
    items = [(a, await agreement_out(ctx.db, a)) for a in rows]
    from urllib.parse import urlencode

    page = {
        "items": items,
        "f": f,
        "error": error,
        "zip_url": "/api/v1/agreements/zip?" + urlencode(query),
        "may_zip": access.can_download_agreements_zip(user),
        "stage_labels": STAGE_LABELS,
        "status_labels": STATUS_LABELS,
    }
    return render(request, "agreement_list.html", page)


async def verify_form(request: web.Request) -> web.StreamResponse:
    code = request.query.get("code", "").strip().upper()
    if code:
        return see_other(f"/verify/{quote(code, safe='')}")  # one path segment, whatever it holds
    return render(request, "agreement_verify.html", {"view": None, "code": "", "result": None})


async def verify_page(request: web.Request) -> web.Response:
    db = request[CTX].db
    code = request.match_info["code"].upper()
    try:
        doc = await verify.by_code(db, code)
    except NotFound:
        page = {"view": None, "code": code, "result": None}
        return render(request, "agreement_verify.html", page, status=404)
    view = await verify.public_view(request[CTX], doc)
    return render(request, "agreement_verify.html", {"view": view, "code": code, "result": None})


@csrf_exempt
@body_cap(PDF_CAP)
async def verify_upload(request: web.Request) -> web.Response:
    """A PDF uploaded in the page's form (multipart), read with our own cap: a PDF may be
    larger than ``max_body_bytes``. Public, changes nothing, so no CSRF token."""
    ctx = request[CTX]
    code = request.match_info["code"].upper()
    doc = await verify.by_code(ctx.db, code)
    data = b""
    if request.content_type == "multipart/form-data":
        reader = await request.multipart()
        async for part in reader:
            if getattr(part, "name", None) == "pdf":
                data = await read_capped(_chunks(part), PDF_CAP)
    else:
        data = await read_body(request, PDF_CAP)
    if not data:
        raise BadRequest("choose the PDF file to check", code="empty_body")
    result = await verify.check_upload(ctx, data, code=code)
    view = await verify.public_view(ctx, doc)
    return render(request, "agreement_verify.html", {"view": view, "code": code,
                                                     "result": result.as_dict()})  # fmt: skip


async def _chunks(part: Any) -> AsyncIterator[bytes]:
    """One part of a multipart form, chunk by chunk."""
    while chunk := await part.read_chunk(CHUNK):
        yield chunk
