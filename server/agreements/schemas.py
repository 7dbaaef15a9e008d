"""The agreements' JSON shapes, shared by the API and the pages, and the one function that
turns an agreement into its public-facing summary."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from server.agreements.drafting import current_version, signatures_of
from server.agreements.sealing import sealed_documents
from server.agreements.signing import MAX_SIGNATURE_BYTES, SignRequest
from server.agreements.terms import Terms
from server.bounds import RowId
from server.errors import Invalid
from server.models.agreements import Agreement

# A signature of up to 1 MB, base64-encoded, plus the rest of the JSON.
SIGN_BODY_CAP = MAX_SIGNATURE_BYTES * 4 // 3 + 64 * 1024


class CreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    terms: Terms
    session_id: RowId | None = Field(default=None, description="the session it is drafted in")


class TermsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    terms: Terms


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version_id: RowId = Field(description="the version shown to the signer")
    content_hash: str = Field(min_length=64, max_length=64, description="its SHA-256")
    typed_name: str = Field(min_length=1, max_length=64)
    image_png: str = Field(description="PNG, base64 or a data: URL, at most 1 MB")
    party_id: RowId | None = Field(default=None, description="the party signing (invite only)")
    session_id: RowId | None = None


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=500)


class VersionOut(BaseModel):
    id: int
    number: int
    content_hash: str
    created_at: datetime


class SignatureOut(BaseModel):
    role: str
    party_id: int | None
    user_id: int | None
    typed_name: str
    version_id: int
    signed_at: datetime


class DocumentOut(BaseModel):
    kind: str
    code: str
    sha256: str
    pages: int
    development: bool
    sealed_at: datetime
    download_url: str


class AgreementOut(BaseModel):
    id: int
    case_id: int
    case_number: str | None
    status: str
    session_id: int | None
    current_version: VersionOut | None
    signatures: list[SignatureOut]
    unsigned_party_ids: list[int]
    documents: list[DocumentOut]
    created_at: datetime
    sealed_at: datetime | None


class SaveOut(BaseModel):
    agreement: AgreementOut
    voided_signatures: int
    message: str


def decode_png(value: str) -> bytes:
    if value.startswith("data:"):
        head, _, value = value.partition(",")
        if head != "data:image/png;base64":
            raise Invalid("the signature image must be a PNG", code="not_png")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("image_png is not valid base64", code="not_png") from None


def sign_request(body: SignIn) -> SignRequest:
    return SignRequest(
        version_id=body.version_id,
        content_hash=body.content_hash,
        typed_name=body.typed_name,
        image_png=decode_png(body.image_png),
        session_id=body.session_id,
    )


async def agreement_out(db: AsyncSession, agreement: Agreement) -> dict[str, Any]:
    version = await current_version(db, agreement) if agreement.current_version_id else None
    sigs = await signatures_of(db, version.id) if version else []
    signed = {s.party_id for s in sigs if s.role == "party"}
    docs = await sealed_documents(db, agreement.id)
    out = AgreementOut(
        id=agreement.id,
        case_id=agreement.case_id,
        case_number=agreement.case.number,
        status=agreement.status,
        session_id=agreement.session_id,
        current_version=VersionOut(
            id=version.id,
            number=version.number,
            content_hash=version.content_hash,
            created_at=version.created_at,
        )
        if version
        else None,
        signatures=[
            SignatureOut(
                role=s.role,
                party_id=s.party_id,
                user_id=s.user_id,
                typed_name=s.typed_name,
                version_id=s.version_id,
                signed_at=s.signed_at,
            )
            for s in sigs
        ],
        unsigned_party_ids=[p.id for p in agreement.case.parties if p.id not in signed],
        documents=[
            DocumentOut(
                kind=d.kind,
                code=d.code,
                sha256=d.sha256,
                pages=d.pages,
                development=d.development,
                sealed_at=d.sealed_at,
                download_url=f"/api/v1/agreements/{agreement.id}/documents/{d.kind}.pdf",
            )
            for d in docs
        ],
        created_at=agreement.created_at,
        sealed_at=agreement.sealed_at,
    )
    return out.model_dump(mode="json")
