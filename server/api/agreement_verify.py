"""Public verification API: what a verification code names, and whether an uploaded PDF is
the sealed original. No login. A PDF upload may exceed ``max_body_bytes``, so these routes
read the body themselves with their own cap (413 above it)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from server.agreements import verify
from server.api.registry import ApiRouter
from server.errors import BadRequest, UnsupportedMedia
from server.web.auth import csrf_exempt
from server.web.body import body_cap
from server.web.http import json_ok, read_body
from server.web.keys import CTX

api = ApiRouter("verify")
PDF_CAP = 32 * 1024 * 1024


class VerifyOut(BaseModel):
    code: str
    kind: str
    kind_label: str
    number: str
    parties: list[str]
    date: str
    content_hash: str
    sha256: str
    pages: int
    development: bool
    signature_ok: bool
    signer: str
    status: str


class SignatureStatus(BaseModel):
    present: bool
    intact: bool
    valid: bool
    trusted: bool
    whole_file: bool
    ok: bool
    signer: str
    problem: str


class UploadOut(BaseModel):
    original: bool
    sha256: str
    code: str | None
    signature: SignatureStatus


async def read_pdf(request: web.Request) -> bytes:
    if request.content_type not in ("application/pdf", "application/octet-stream"):
        raise UnsupportedMedia("send the PDF itself as application/pdf")
    data = await read_body(request, PDF_CAP)
    if not data:
        raise BadRequest("the body is empty: send the PDF", code="empty_body")
    return data


@api.route(
    "GET", "/verify/{code}", name="api_verify", summary="What a verification code names",
    response=VerifyOut, public=True, errors=(404,),
)  # fmt: skip
async def by_code(request: web.Request) -> web.Response:
    ctx = request[CTX]
    doc = await verify.by_code(ctx.db, request.match_info["code"])
    return json_ok(await verify.public_view(ctx, doc))


@api.route(
    "POST", "/verify/{code}", name="api_verify_upload",
    summary="Is this PDF (the body, application/pdf) the sealed original of the code?",
    response=UploadOut, public=True, errors=(404, 413, 415), upload="application/pdf",
)  # fmt: skip
@csrf_exempt
@body_cap(PDF_CAP)
async def upload_for_code(request: web.Request) -> web.StreamResponse:
    data = await read_pdf(request)
    result = await verify.check_upload(request[CTX], data, code=request.match_info["code"])
    return json_ok(result.as_dict())


@api.route(
    "POST", "/verify", name="api_verify_any",
    summary="Is this PDF (the body, application/pdf) one the court sealed?",
    response=UploadOut, public=True, errors=(413, 415), upload="application/pdf",
)  # fmt: skip
@csrf_exempt
@body_cap(PDF_CAP)
async def upload_any(request: web.Request) -> web.StreamResponse:
    data = await read_pdf(request)
    result = await verify.check_upload(request[CTX], data)
    return json_ok(result.as_dict())
