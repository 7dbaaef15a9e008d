"""The agreements JSON API: drafting with preview, signing (mediator by account, parties by
invite link), sealed PDF downloads, judicial confirmation, and the clerks' list and zip.

Parties have no account: their routes live under ``/invites/{token}/agreement`` and the
token (``server.sessions.verify_invite``) authenticates them into ``request[PARTY]``; they
need no CSRF token because no ambient credential is involved.
"""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web
from sqlalchemy import select

from server.access import can_download_agreements_zip, load_case_for
from server.agreements import clerks, confirmation, drafting, signing
from server.agreements.documents import RenderInput
from server.agreements.pdf import render_html
from server.agreements.schemas import (
    SIGN_BODY_CAP,
    AgreementOut,
    ConfirmIn,
    CreateIn,
    SaveOut,
    SignIn,
    TermsIn,
    VersionOut,
    agreement_out,
    read_capped_json,
    sign_request,
)
from server.agreements.sealing import document_path, sealed_documents
from server.agreements.templates import choose
from server.agreements.terms import content_hash
from server.api.registry import ApiRouter
from server.audit import record
from server.errors import Forbidden, NotFound, parse_model
from server.models.agreements import Agreement, AgreementTemplateVersion, AgreementVersion
from server.models.sessions import Invite
from server.web.auth import client_address, csrf_exempt, require_user
from server.web.http import json_ok, read_json
from server.web.keys import DB, PARTY, SETTINGS

api = ApiRouter("agreements")
HTML = "text/html"


def _int(request: web.Request, key: str) -> int:
    try:
        return int(request.match_info[key])
    except ValueError:
        raise NotFound(f"no such {key}") from None


async def _mine(request: web.Request, *, lock: bool = False) -> Agreement:
    user = require_user(request)
    return await drafting.load_agreement_for(
        request[DB], user, _int(request, "agreement_id"), lock=lock
    )


async def document_html(request: web.Request, agreement: Agreement) -> str:
    db = request[DB]
    version = await drafting.current_version(db, agreement)
    template = await db.get(AgreementTemplateVersion, version.template_version_id)
    assert template is not None
    sigs = await drafting.signatures_of(db, version.id)
    inp = RenderInput(version.terms, version.content_hash, version.number, sigs)
    inp.tz = request.app[SETTINGS].timezone
    return render_html(template.body, inp)


@api.route(
    "POST", r"/cases/{case_id:\d+}/agreement", name="api_agreement_create",
    summary="Draft the case's agreement", body=CreateIn, response=AgreementOut, status=201,
    errors=(404, 409),
)  # fmt: skip
async def create(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await read_json(request, CreateIn)
    db = request[DB]
    case = await load_case_for(db, user, _int(request, "case_id"))
    agreement, _ = await drafting.create(
        db, user, case, body.terms, court_name=request.app[SETTINGS].court_name,
        session_id=body.session_id, request=request,
    )  # fmt: skip
    return json_ok(await agreement_out(db, agreement), 201)


@api.route(
    "GET", r"/cases/{case_id:\d+}/agreement", name="api_case_agreement",
    summary="The case's agreement", response=AgreementOut, errors=(404,),
)  # fmt: skip
async def of_case(request: web.Request) -> web.Response:
    user = require_user(request)
    db = request[DB]
    case = await load_case_for(db, user, _int(request, "case_id"))
    agreement = await db.scalar(select(Agreement).where(Agreement.case_id == case.id))
    if agreement is None:
        raise NotFound("this case has no agreement yet", code="agreement_not_found")
    return json_ok(await agreement_out(db, agreement))


@api.route(
    "GET", "/agreements", name="api_agreements", summary="Agreements (filters for clerks)",
    query=clerks.AgreementFilter, response=AgreementOut, response_list=True,
)  # fmt: skip
async def listing(request: web.Request) -> web.Response:
    user = require_user(request)
    f = parse_model(clerks.AgreementFilter, dict(request.query))
    db = request[DB]
    rows = await clerks.listing(db, user, f, request.app[SETTINGS].tz)
    return json_ok([await agreement_out(db, a) for a in rows])


@api.route(
    "GET", "/agreements/zip", name="api_agreements_zip",
    summary="Zip of the filtered sealed documents (clerks), streamed",
    query=clerks.AgreementFilter, content_type="application/zip",
)  # fmt: skip
async def zip_download(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    if not can_download_agreements_zip(user):
        raise Forbidden("only clerks and admins download agreements in bulk")
    f = parse_model(clerks.AgreementFilter, dict(request.query))
    db = request[DB]
    settings = request.app[SETTINGS]
    rows = await clerks.listing(db, user, f, settings.tz)
    docs = await clerks.documents_for(db, [a.id for a in rows])
    for doc in docs:
        await record(
            db, "agreement.download", "agreement", doc.agreement_id, request=request,
            kind=doc.kind, code=doc.code, via="zip",
        )  # fmt: skip
    await db.commit()  # the audit rows stand before the first byte leaves
    pairs = [(d, document_path(settings, d)) for d in docs]
    return await clerks.stream_zip(request, pairs, "agreements.zip")  # type: ignore[arg-type]


@api.route(
    "GET", r"/agreements/{agreement_id:\d+}", name="api_agreement", summary="One agreement",
    response=AgreementOut, errors=(404,),
)  # fmt: skip
async def get_one(request: web.Request) -> web.Response:
    agreement = await _mine(request)
    return json_ok(await agreement_out(request[DB], agreement))


@api.route(
    "PUT", r"/agreements/{agreement_id:\d+}/terms", name="api_agreement_terms",
    summary="Save the terms as a new version (voids earlier signatures)", body=TermsIn,
    response=SaveOut, errors=(403, 404, 409),
)  # fmt: skip
async def save(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await read_json(request, TermsIn)
    db = request[DB]
    agreement = await _mine(request, lock=True)
    _, voided = await drafting.save_terms(
        db, user, agreement, body.terms, court_name=request.app[SETTINGS].court_name,
        request=request,
    )  # fmt: skip
    message = (
        f"{voided} signature(s) on the earlier version are void: the parties must sign again"
        if voided
        else "saved"
    )
    out = {"agreement": await agreement_out(db, agreement), "voided_signatures": voided,
           "message": message}  # fmt: skip
    return json_ok(out)


@api.route(
    "POST", r"/cases/{case_id:\d+}/agreement/preview", name="api_agreement_preview",
    summary="Render unsaved terms (live preview)", body=TermsIn, content_type=HTML,
    errors=(403, 404),
)  # fmt: skip
async def preview(request: web.Request) -> web.Response:
    from server.access import can_draft_agreement
    from server.agreements.documents import snapshot

    user = require_user(request)
    body = await read_json(request, TermsIn)
    db = request[DB]
    case = await load_case_for(db, user, _int(request, "case_id"))
    if not can_draft_agreement(user, case):
        raise Forbidden("only a mediator or judge drafts an agreement", code="not_drafter")
    template = await choose(db, "agreement", case)
    data = snapshot(case, body.terms, template, request.app[SETTINGS].court_name)
    agreement = await db.scalar(select(Agreement).where(Agreement.case_id == case.id))
    number = 1
    if agreement is not None and agreement.current_version_id is not None:
        number = (await drafting.current_version(db, agreement)).number + 1
    inp = RenderInput(data, content_hash(data), number)
    return web.Response(text=render_html(template.body, inp), content_type=HTML)


@api.route(
    "GET", r"/agreements/{agreement_id:\d+}/document", name="api_agreement_document",
    summary="The current version, read-only (session room view)", content_type=HTML,
    errors=(404,),
)  # fmt: skip
async def document(request: web.Request) -> web.Response:
    agreement = await _mine(request)
    return web.Response(text=await document_html(request, agreement), content_type=HTML)


@api.route(
    "GET", r"/agreements/{agreement_id:\d+}/versions", name="api_agreement_versions",
    summary="Every saved version", response=VersionOut, response_list=True, errors=(404,),
)  # fmt: skip
async def versions(request: web.Request) -> web.Response:
    agreement = await _mine(request)
    rows = await request[DB].scalars(
        select(AgreementVersion)
        .where(AgreementVersion.agreement_id == agreement.id)
        .order_by(AgreementVersion.number)
    )
    return json_ok([
        VersionOut(id=v.id, number=v.number, content_hash=v.content_hash,
                   created_at=v.created_at).model_dump(mode="json")
        for v in rows
    ])  # fmt: skip


@api.route(
    "POST", r"/agreements/{agreement_id:\d+}/signatures", name="api_agreement_sign",
    summary="The mediator signs (last); seals the agreement", body=SignIn,
    response=AgreementOut, status=201, errors=(403, 404, 409, 413),
)  # fmt: skip
async def mediator_sign(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await read_capped_json(request, SignIn, SIGN_BODY_CAP)
    agreement = await _mine(request, lock=True)
    await signing.sign_as_mediator(
        request[DB], request.app[SETTINGS], agreement, user, sign_request(body),
        address=client_address(request), request=request,
    )  # fmt: skip
    return json_ok(await agreement_out(request[DB], agreement), 201)


@api.route(
    "GET", r"/agreements/{agreement_id:\d+}/documents/{kind:(agreement|ruling)}.pdf",
    name="api_agreement_pdf", summary="Download a sealed PDF (audited)",
    content_type="application/pdf", errors=(404,),
)  # fmt: skip
async def download(request: web.Request) -> web.StreamResponse:
    agreement = await _mine(request)
    kind = request.match_info["kind"]
    db = request[DB]
    doc = next((d for d in await sealed_documents(db, agreement.id) if d.kind == kind), None)
    if doc is None:
        raise NotFound(f"no sealed {kind} yet", code="not_sealed")
    await record(db, "agreement.download", "agreement", agreement.id, request=request,
                 kind=kind, code=doc.code, via="single")  # fmt: skip
    path = document_path(request.app[SETTINGS], doc)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": f'attachment; filename="{kind}-{doc.code}.pdf"',
        },
    )


@api.route(
    "POST", r"/agreements/{agreement_id:\d+}/confirm", name="api_agreement_confirm",
    summary="Judicial confirmation by the judge: ruling sealed, case moved", body=ConfirmIn,
    response=AgreementOut, errors=(403, 404, 409),
)  # fmt: skip
async def confirm(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await read_json(request, ConfirmIn)
    agreement = await _mine(request, lock=True)
    await confirmation.confirm(request[DB], user, agreement, note=body.note, request=request)
    return json_ok(await agreement_out(request[DB], agreement))


# --- parties, by invite link ---------------------------------------------------------------


async def _invited(request: web.Request) -> tuple[Invite, Agreement]:
    from server.agreements.parties import invite_for_agreement

    db = request[DB]
    invite = await invite_for_agreement(db, request.app[SETTINGS], request.match_info["token"])
    request[PARTY] = invite.party
    agreement = await db.scalar(
        select(Agreement).where(Agreement.case_id == invite.session.case_id)
    )
    if agreement is None:
        raise NotFound("there is no agreement to read or sign yet", code="agreement_not_found")
    return invite, agreement


@api.route(
    "GET", "/invites/{token}/agreement", name="api_invite_agreement",
    summary="The agreement, for a party by invite link", response=AgreementOut, public=True,
    errors=(401, 403, 404),
)  # fmt: skip
async def party_view(request: web.Request) -> web.Response:
    _, agreement = await _invited(request)
    return json_ok(await agreement_out(request[DB], agreement))


@api.route(
    "GET", "/invites/{token}/agreement/document", name="api_invite_agreement_document",
    summary="The current version, read-only, for a party", content_type=HTML, public=True,
    errors=(401, 403, 404),
)  # fmt: skip
async def party_document(request: web.Request) -> web.Response:
    _, agreement = await _invited(request)
    return web.Response(text=await document_html(request, agreement), content_type=HTML)


@api.route(
    "POST", "/invites/{token}/agreement/signatures", name="api_invite_agreement_sign",
    summary="A party signs the version shown", body=SignIn, response=AgreementOut,
    status=201, public=True, errors=(401, 403, 404, 409, 413),
)  # fmt: skip
@csrf_exempt
async def party_sign(request: web.Request) -> web.StreamResponse:
    body = await read_capped_json(request, SignIn, SIGN_BODY_CAP)
    invite, agreement = await _invited(request)
    # The session is the invite's, whatever the body claims.
    req = replace(sign_request(body), session_id=invite.session_id)
    await signing.sign_as_party(
        request[DB], agreement, invite.party, req, claimed_party_id=body.party_id,
        address=client_address(request), request=request,
    )  # fmt: skip
    return json_ok(await agreement_out(request[DB], agreement), 201)
