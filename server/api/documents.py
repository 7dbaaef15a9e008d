"""The electronic case file's JSON API: ``/api/v1/cases/{id}/documents`` for staff, and
``/api/v1/invites/{token}/documents`` for a party through their invitation link.

An upload's body is the file itself (PDF, JPEG or PNG; its type is read from the bytes), its
name and title in the query: a phone's browser or a scanner's script sends it as it is. A
download is the file with its own type, as an attachment, never cached.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import can_add_document, can_party_add_document, can_view_documents
from server.api.case_paths import case_for_request
from server.api.registry import ApiRouter
from server.docket import documents
from server.errors import NotFound, parse_model
from server.models.accounts import User
from server.models.docket import Case, Party
from server.models.documents import CaseDocument
from server.sessions import verify_party_invite
from server.web.auth import csrf_exempt, enter_as_party, require_user
from server.web.body import body_cap
from server.web.http import json_ok, read_body
from server.web.keys import CTX
from server.web.params import path_id

api = ApiRouter("documents")
UPLOAD = "application/octet-stream"
# What a document is answered as: its own type, one of these (``documents.SIGNATURES``).
DOCUMENT_TYPES = ", ".join(content_type for _, content_type, _ in documents.SIGNATURES)


class DocumentUploadQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    filename: str = Field(min_length=1, max_length=255, description="the file's own name")
    title: str = Field("", max_length=200, description="what it is, e.g. 借条照片")


class CaseDocumentOut(BaseModel):
    id: int
    title: str
    filename: str
    content_type: str
    size: int
    sha256: str
    source: str = Field(description="staff | party | mail")
    brought_by: str = Field(description="the user's or the party's name")
    created_at: datetime
    purged: bool = Field(description="deleted when the case's retention period ended")


async def document_out(db: AsyncSession, doc: CaseDocument) -> CaseDocumentOut:
    who = ""
    if doc.party_id is not None:
        party = await db.get(Party, doc.party_id)
        who = party.name if party is not None else ""
    elif doc.uploaded_by_id is not None:
        user = await db.get(User, doc.uploaded_by_id)
        who = user.display_name if user is not None else ""
    return CaseDocumentOut(
        id=doc.id, title=doc.title, filename=doc.filename, content_type=doc.content_type,
        size=doc.size, sha256=doc.sha256, source=doc.source, brought_by=who,
        created_at=doc.created_at, purged=doc.purged_at is not None,
    )  # fmt: skip


async def _listing(request: web.Request, docs: list[CaseDocument]) -> web.Response:
    db = request[CTX].db
    return json_ok([(await document_out(db, d)).model_dump(mode="json") for d in docs])


async def _case(request: web.Request, *, adding: bool = False) -> Case:
    case = await case_for_request(request)
    user = require_user(request)
    allowed = can_add_document(user, case) if adding else can_view_documents(user, case)
    if not allowed:
        raise NotFound("case not found", code="case_not_found")
    return case


@api.route(
    "GET", r"/cases/{case_id:\d+}/documents", name="api_documents",
    summary="The case file: every document of the case, newest first",
    response=CaseDocumentOut, response_list=True, errors=(401, 404),
)  # fmt: skip
async def list_documents(request: web.Request) -> web.Response:
    case = await _case(request)
    return await _listing(request, await documents.documents_of(request[CTX], case))


@api.route(
    "POST", r"/cases/{case_id:\d+}/documents", name="api_document_add",
    summary="Add a document (the body: a PDF, JPEG or PNG file) to the case file",
    query=DocumentUploadQuery, response=CaseDocumentOut, status=201, upload=UPLOAD,
    errors=(400, 401, 404, 413, 415, 422),
)  # fmt: skip
@body_cap(documents.MAX_BYTES)
async def add_document(request: web.Request) -> web.Response:
    case = await _case(request, adding=True)
    query = parse_model(DocumentUploadQuery, dict(request.query))
    data = await read_body(request, documents.MAX_BYTES)
    ctx = request[CTX]
    doc = await documents.add_document(ctx, case, data, filename=query.filename, title=query.title)
    return json_ok((await document_out(ctx.db, doc)).model_dump(mode="json"), 201)


@api.route(
    "GET", r"/cases/{case_id:\d+}/documents/{document_id:\d+}", name="api_document_file",
    summary="Download one document of the case file (audited)", content_type=DOCUMENT_TYPES,
    errors=(401, 404),
)  # fmt: skip
async def document_file(request: web.Request) -> web.StreamResponse:
    case = await _case(request)
    found = await documents.open_document(
        request[CTX], case, path_id(request, "document_id", code="document_not_found")
    )
    return _send(found)


def _send(found: documents.DocumentFile, disposition: str = "attachment") -> web.FileResponse:
    doc = found.doc
    headers = {
        "Content-Type": doc.content_type,
        "Content-Disposition": content_disposition(doc.filename, disposition),
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return web.FileResponse(found.path, headers=headers)


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """The file under its own name (RFC 6266: an ASCII fallback and the UTF-8 name)."""
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


# --- a party, by invitation link ------------------------------------------------------------


async def _invited(request: web.Request) -> tuple[Party, Case]:
    ctx = request[CTX]
    invite, party = await verify_party_invite(ctx, request.match_info["token"])
    case = await ctx.db.get(Case, invite.session.case_id)
    if case is None or not can_party_add_document(invite, case):
        raise NotFound("case not found", code="case_not_found")
    enter_as_party(request, party)
    return party, case


@api.route(
    "GET", "/invites/{token}/documents", name="api_invite_documents",
    summary="The documents this party added to their case file", response=CaseDocumentOut,
    response_list=True, public=True, errors=(401, 403),
)  # fmt: skip
async def party_documents(request: web.Request) -> web.Response:
    party, case = await _invited(request)
    return await _listing(request, await documents.documents_of(request[CTX], case, party=party))


@api.route(
    "POST", "/invites/{token}/documents", name="api_invite_document_add",
    summary="A party adds a document (the body: a PDF, JPEG or PNG) through their link",
    query=DocumentUploadQuery, response=CaseDocumentOut, status=201, upload=UPLOAD, public=True,
    errors=(400, 401, 403, 413, 415, 422),
)  # fmt: skip
@csrf_exempt  # the signed link is the credential, as for signing
@body_cap(documents.MAX_BYTES)
async def party_add_document(request: web.Request) -> web.Response:
    query = parse_model(DocumentUploadQuery, dict(request.query))
    data = await read_body(request, documents.MAX_BYTES)
    party, case = await _invited(request)
    ctx = request[CTX]
    doc = await documents.add_document(
        ctx, case, data, filename=query.filename, title=query.title, party=party, source="party"
    )
    return json_ok((await document_out(ctx.db, doc)).model_dump(mode="json"), 201)


@api.route(
    "GET", r"/invites/{token}/documents/{document_id:\d+}", name="api_invite_document_file",
    summary="A document for a party: one they added, or one the host showed their room",
    content_type=DOCUMENT_TYPES, public=True, errors=(401, 403, 404),
)  # fmt: skip
async def party_document_file(request: web.Request) -> web.StreamResponse:
    ctx = request[CTX]
    invite, party = await verify_party_invite(ctx, request.match_info["token"])
    enter_as_party(request, party)
    doc_id = path_id(request, "document_id", code="document_not_found")
    # Shown on the party's own screen (a phone's viewer opens a PDF inline).
    return _send(await documents.open_for_party(ctx, invite, doc_id), "inline")
