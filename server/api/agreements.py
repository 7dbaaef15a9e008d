"""The agreements JSON API: drafting with preview, signing (mediator by account, parties by
invite link), sealed PDF downloads, judicial confirmation, and the clerks' list and zip.

Parties have no account: their routes live under ``/invites/{token}/agreement`` and the
token (``server.sessions.verify_invite``, the same check as for joining) makes them the
request's actor; they need no CSRF token because no ambient credential is involved.
"""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web
from sqlalchemy import select

from server.access import can_download_agreements_zip, load_case_for
from server.agreements import clerks, confirmation, drafting, signing
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
    sign_request,
)
from server.agreements.sealing import document_path, record_download, sealed_documents
from server.api.registry import ApiRouter
from server.docket import documents
from server.errors import Forbidden, NotFound, parse_model
from server.models.agreements import Agreement, AgreementVersion
from server.models.docket import Case, Party
from server.models.sessions import Invite
from server.sessions import verify_party_invite
from server.web.auth import csrf_exempt, enter_as_party, require_user
from server.web.body import body_cap
from server.web.http import gettext_of, json_ok, read_json
from server.web.keys import CTX, SETTINGS
from server.web.params import path_id
from server.web.security import same_origin_frames
from server.web.zipstream import stream_zip

api = ApiRouter("agreements")
HTML = "text/html"


async def _mine(request: web.Request, *, lock: bool = False) -> Agreement:
    require_user(request)
    agreement_id = path_id(request, "agreement_id")
    return await drafting.load_agreement_for(request[CTX], agreement_id, lock=lock)


@api.route(
    "POST", r"/cases/{case_id:\d+}/agreement", name="api_agreement_create",
    summary="Draft the case's agreement", body=CreateIn, response=AgreementOut, status=201,
    errors=(404, 409),
)  # fmt: skip
async def create(request: web.Request) -> web.Response:
    user = require_user(request)
    body = await read_json(request, CreateIn)
    ctx = request[CTX]
    case = await load_case_for(ctx.db, user, path_id(request, "case_id"))
    agreement, _ = await drafting.create(ctx, case, body.terms, session_id=body.session_id)
    return json_ok(await agreement_out(ctx.db, agreement), 201)


@api.route(
    "GET", r"/cases/{case_id:\d+}/agreement", name="api_case_agreement",
    summary="The case's agreement", response=AgreementOut, errors=(404,),
)  # fmt: skip
async def of_case(request: web.Request) -> web.Response:
    user = require_user(request)
    db = request[CTX].db
    case = await load_case_for(db, user, path_id(request, "case_id"))
    agreement = await drafting.agreement_of_case(db, case.id)
    if agreement is None:
        raise NotFound("this case has no agreement yet", code="agreement_not_found")
    return json_ok(await agreement_out(db, agreement))


@api.route(
    "GET", "/agreements", name="api_agreements", summary="Agreements (filters for clerks)",
    query=clerks.AgreementFilter, response=AgreementOut, response_list=True,
)  # fmt: skip
async def listing(request: web.Request) -> web.Response:
    require_user(request)
    f = parse_model(clerks.AgreementFilter, dict(request.query))
    ctx = request[CTX]
    rows = await clerks.listing(ctx, f)
    return json_ok([await agreement_out(ctx.db, a) for a in rows])


@api.route(
    "GET", "/agreements/zip", name="api_agreements_zip",
    summary="Zip of the filtered sealed documents and their cases' files (clerks), streamed",
    query=clerks.AgreementFilter, content_type="application/zip",
)  # fmt: skip
async def zip_download(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    if not can_download_agreements_zip(user):
        raise Forbidden("only the clerks download sealed agreements in bulk")
    f = parse_model(clerks.AgreementFilter, dict(request.query))
    ctx = request[CTX]
    rows = await clerks.listing(ctx, f)
    docs = await clerks.documents_for(ctx.db, [a.id for a in rows])
    for doc in docs:
        await record_download(ctx, doc, via="zip")
    entries = [(clerks.zip_name(d), document_path(ctx.settings, d)) for d in docs]
    # With each agreement, its case's file (电子卷宗): what the clerks archive together.
    cases = [c for cid in sorted({a.case_id for a in rows}) if (c := await ctx.db.get(Case, cid))]
    entries += await documents.for_export(ctx, cases)
    await ctx.db.commit()  # the audit rows stand before the first byte leaves
    return await stream_zip(request, entries, "agreements.zip")


@api.route(
    "GET", r"/agreements/{agreement_id:\d+}", name="api_agreement", summary="One agreement",
    response=AgreementOut, errors=(404,),
)  # fmt: skip
async def get_one(request: web.Request) -> web.Response:
    agreement = await _mine(request)
    return json_ok(await agreement_out(request[CTX].db, agreement))


@api.route(
    "PUT", r"/agreements/{agreement_id:\d+}/terms", name="api_agreement_terms",
    summary="Save the terms as a new version (voids earlier signatures)", body=TermsIn,
    response=SaveOut, errors=(403, 404, 409),
)  # fmt: skip
async def save(request: web.Request) -> web.Response:
    require_user(request)
    body = await read_json(request, TermsIn)
    agreement = await _mine(request, lock=True)
    db = request[CTX].db
    _, voided = await drafting.save_terms(request[CTX], agreement, body.terms)
    _ = gettext_of(request)  # shown to the drafter as it is
    message = (
        _("%(n)s signature(s) on the earlier version are void: the parties must sign again")
        % {"n": voided}
        if voided
        else _("Saved")
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
    user = require_user(request)
    body = await read_json(request, TermsIn)
    ctx = request[CTX]
    case = await load_case_for(ctx.db, user, path_id(request, "case_id"))
    html = await drafting.preview_html(ctx, case, body.terms)
    return web.Response(text=html, content_type=HTML)


@api.route(
    "GET", r"/agreements/{agreement_id:\d+}/document", name="api_agreement_document",
    summary="The current version, read-only (session room view)", content_type=HTML,
    errors=(403, 404),
)  # fmt: skip
@same_origin_frames  # shown in an iframe of the case and session pages
async def document(request: web.Request) -> web.Response:
    agreement = await _mine(request)
    drafting.require_original(request[CTX], agreement.case)
    return web.Response(
        text=await drafting.document_html(request[CTX], agreement), content_type=HTML
    )


@api.route(
    "GET", r"/agreements/{agreement_id:\d+}/versions", name="api_agreement_versions",
    summary="Every saved version", response=VersionOut, response_list=True, errors=(404,),
)  # fmt: skip
async def versions(request: web.Request) -> web.Response:
    agreement = await _mine(request)
    rows = await request[CTX].db.scalars(
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
@body_cap(SIGN_BODY_CAP)
async def mediator_sign(request: web.Request) -> web.Response:
    require_user(request)
    body = await read_json(request, SignIn, cap=SIGN_BODY_CAP)
    agreement = await _mine(request, lock=True)
    await signing.sign_as_mediator(request[CTX], agreement, sign_request(body))
    return json_ok(await agreement_out(request[CTX].db, agreement), 201)


@api.route(
    "GET", r"/agreements/{agreement_id:\d+}/documents/{kind:(agreement|ruling)}.pdf",
    name="api_agreement_pdf", summary="Download a sealed PDF (audited)",
    content_type="application/pdf", errors=(403, 404),
)  # fmt: skip
async def download(request: web.Request) -> web.StreamResponse:
    agreement = await _mine(request)
    drafting.require_original(request[CTX], agreement.case)
    kind = request.match_info["kind"]
    db = request[CTX].db
    doc = next((d for d in await sealed_documents(db, agreement.id) if d.kind == kind), None)
    if doc is None:
        raise NotFound(
            "no sealed agreement yet" if kind == "agreement" else "no sealed ruling yet",
            code="not_sealed",
        )
    await record_download(request[CTX], doc, via="single")
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
    require_user(request)
    body = await read_json(request, ConfirmIn)
    agreement = await _mine(request, lock=True)
    await confirmation.confirm(request[CTX], agreement, note=body.note)
    return json_ok(await agreement_out(request[CTX].db, agreement))


# --- parties, by invite link ---------------------------------------------------------------


async def _invited(request: web.Request) -> tuple[Invite, Party, Agreement]:
    ctx = request[CTX]
    invite, party = await verify_party_invite(ctx, request.match_info["token"], after_end=True)
    enter_as_party(request, party)
    agreement = await drafting.agreement_of_case(ctx.db, invite.session.case_id)
    if agreement is None:
        raise NotFound("there is no agreement to read or sign yet", code="agreement_not_found")
    return invite, party, agreement


@api.route(
    "GET", "/invites/{token}/agreement", name="api_invite_agreement",
    summary="The agreement, for a party by invite link", response=AgreementOut, public=True,
    errors=(401, 403, 404),
)  # fmt: skip
async def party_view(request: web.Request) -> web.Response:
    _, _, agreement = await _invited(request)
    return json_ok(await agreement_out(request[CTX].db, agreement))


@api.route(
    "GET", "/invites/{token}/agreement/document", name="api_invite_agreement_document",
    summary="The current version, read-only, for a party", content_type=HTML, public=True,
    errors=(401, 403, 404),
)  # fmt: skip
@same_origin_frames  # shown in an iframe of the signing page and the session room
async def party_document(request: web.Request) -> web.Response:
    _, _, agreement = await _invited(request)
    return web.Response(
        text=await drafting.document_html(request[CTX], agreement), content_type=HTML
    )


@api.route(
    "POST", "/invites/{token}/agreement/signatures", name="api_invite_agreement_sign",
    summary="A party signs the version shown", body=SignIn, response=AgreementOut,
    status=201, public=True, errors=(401, 403, 404, 409, 413),
)  # fmt: skip
@csrf_exempt
@body_cap(SIGN_BODY_CAP)
async def party_sign(request: web.Request) -> web.StreamResponse:
    body = await read_json(request, SignIn, cap=SIGN_BODY_CAP)
    invite, party, agreement = await _invited(request)
    # The session is the invite's, whatever the body claims.
    req = replace(sign_request(body), session_id=invite.session_id)
    await signing.sign_as_party(request[CTX], agreement, party, req, claimed_party_id=body.party_id)
    return json_ok(await agreement_out(request[CTX].db, agreement), 201)
