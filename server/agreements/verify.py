"""Verification of sealed documents, public and offline: what a verification code names, and
whether an uploaded PDF is the sealed original (same SHA-256 as stored) with its digital
signature intact, valid, trusted and covering the whole file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.agreements import pki
from server.context import Context
from server.errors import NotFound
from server.formatting import local_time, mask_name
from server.models.agreements import Agreement, AgreementVersion, SealedDocument

KIND_LABEL = {"agreement": "调解协议书", "ruling": "民事裁定书（司法确认）"}


@dataclass
class UploadResult:
    original: bool
    sha256: str
    document: SealedDocument | None
    signature: pki.SignatureReport

    def as_dict(self) -> dict[str, Any]:
        s = self.signature
        return {
            "original": self.original,
            "sha256": self.sha256,
            "code": self.document.code if self.document else None,
            "signature": {
                "present": s.present, "intact": s.intact, "valid": s.valid,
                "trusted": s.trusted, "whole_file": s.whole_file, "ok": s.ok,
                "signer": s.signer, "problem": s.problem,
            },
        }  # fmt: skip


async def by_code(db: AsyncSession, code: str) -> SealedDocument:
    wanted = code.upper()
    # Codes are ASCII letters and digits: anything else names no seal and is not looked up
    # (a NUL in it was a database error on PostgreSQL).
    doc: SealedDocument | None = None
    if wanted.isascii() and wanted.isalnum():
        doc = await db.scalar(select(SealedDocument).where(SealedDocument.code == wanted))
    if doc is None:
        raise NotFound("no sealed document has this verification code", code="unknown_code")
    return doc


async def by_sha256(db: AsyncSession, digest: str) -> SealedDocument | None:
    """The sealed document whose file has this SHA-256, if the court sealed one."""
    doc: SealedDocument | None = await db.scalar(
        select(SealedDocument).where(SealedDocument.sha256 == digest)
    )
    return doc


async def public_view(ctx: Context, doc: SealedDocument) -> dict[str, Any]:
    """What anyone may see: number, masked party names, date, hashes, signature status."""
    db, settings = ctx.db, ctx.settings
    agreement = await db.get(Agreement, doc.agreement_id)
    assert agreement is not None
    version = await db.get(AgreementVersion, agreement.current_version_id)
    parties: list[dict[str, Any]] = list(version.terms.get("parties", [])) if version else []  # type: ignore[call-overload]
    path = settings.data_dir / "agreements" / doc.filename
    stored = path.read_bytes() if path.exists() else b""
    report = await pki.validate(stored, pki.court_key(settings).trust_roots) if stored else None
    intact = bool(stored) and hashlib.sha256(stored).hexdigest() == doc.sha256
    return {
        "code": doc.code,
        "kind": doc.kind,
        "kind_label": KIND_LABEL.get(doc.kind, doc.kind),
        "number": doc.case_number,
        "parties": [mask_name(str(p["name"])) for p in parties],
        "date": local_time(doc.sealed_at, settings.timezone, "%Y-%m-%d"),
        "content_hash": doc.content_hash,
        "sha256": doc.sha256,
        "pages": doc.pages,
        "development": doc.development,
        "signature_ok": bool(intact and report and report.ok),
        "signer": report.signer if report else "",
        "status": "valid" if intact and report and report.ok else "altered_or_missing",
    }


async def check_upload(ctx: Context, data: bytes, *, code: str | None = None) -> UploadResult:
    """Is ``data`` the sealed original (of ``code``, if given), its signature intact?"""
    digest = hashlib.sha256(data).hexdigest()
    doc: SealedDocument | None
    if code is not None:
        doc = await by_code(ctx.db, code)
        original = doc.sha256 == digest
    else:
        doc = await by_sha256(ctx.db, digest)
        original = doc is not None
    report = await pki.validate(data, pki.court_key(ctx.settings).trust_roots)
    return UploadResult(original and report.ok, digest, doc, report)
