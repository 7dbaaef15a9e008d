"""Sealing: render the fully signed version (or the ruling) to PDF, sign it with the court's
key, store it under ``data_dir/agreements`` and record it with its public verification code.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import audit
from server.agreements import pdf, pki
from server.agreements.documents import RenderInput, Seal
from server.context import Context
from server.files import write_atomic
from server.models.agreements import (
    Agreement,
    AgreementSignature,
    AgreementTemplateVersion,
    AgreementVersion,
    SealedDocument,
)
from server.settings import Settings

# No 0/O, 1/I/L: the code is read aloud and typed from paper.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12


def new_code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))


def verify_url(settings: Settings, code: str) -> str:
    return f"{settings.public_url.rstrip('/')}/verify/{code}"


def documents_dir(settings: Settings) -> os.PathLike[str]:
    return settings.data_dir / "agreements"


def document_path(settings: Settings, doc: SealedDocument) -> Path:
    # The file name is ours (ids and a random code), never user input.
    return settings.data_dir / "agreements" / doc.filename


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    pages: int


async def render_signed(
    settings: Settings,
    body: str,
    inp: RenderInput,
    code: str,
    *,
    reason: str,
) -> tuple[bytes, pki.CourtKey]:
    key = pki.court_key(settings)
    note = "开发用证书，不具有法律效力" if key.development else "法院电子签名证书"
    url = verify_url(settings, code)
    inp.seal = Seal(code=code, qr=pdf.qr_data_uri(url), url=url, signer_note=note)
    inp.development = key.development
    inp.tz = settings.timezone
    html = pdf.render_html(body, inp)
    raw = await pdf.render_pdf_async(html, settings.data_dir / "fonts")
    signed = await pki.sign_pdf(raw, key, reason=reason, location=settings.court_name)
    return signed, key


async def _remove_uncommitted(ctx: Context, agreement: Agreement, kind: str, folder: Path) -> None:
    """The file is written before its row commits, so a process killed in between leaves a
    signed PDF that no row names (``agreements verify`` refuses it). The next seal of the
    same agreement and kind removes it. Only one transaction at a time gets this far for an
    agreement: the mediator's signature row (unique per version and signer) and, for a
    ruling, the case's stage move lock out a second one until the first has ended."""
    known = set(
        await ctx.db.scalars(
            select(SealedDocument.filename).where(SealedDocument.agreement_id == agreement.id)
        )
    )
    _unlink_unknown(folder, f"{agreement.id}-{kind}-", known)


def _unlink_unknown(folder: Path, prefix: str, known: set[str]) -> None:
    for path in folder.iterdir():
        if path.name.startswith(prefix) and path.name not in known:
            path.unlink(missing_ok=True)


async def store(
    ctx: Context,
    agreement: Agreement,
    kind: str,
    code: str,
    signed: bytes,
    key: pki.CourtKey,
    *,
    case_number: str,
    content_hash: str,
) -> SealedDocument:
    filename = f"{agreement.id}-{kind}-{code}.pdf"
    target = ctx.settings.data_dir / "agreements" / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    await _remove_uncommitted(ctx, agreement, kind, target.parent)
    write_atomic(target, signed)
    doc = SealedDocument(
        agreement_id=agreement.id,
        kind=kind,
        code=code,
        case_number=case_number,
        filename=filename,
        sha256=hashlib.sha256(signed).hexdigest(),
        size=len(signed),
        pages=pdf.page_count(signed),
        content_hash=content_hash,
        development=key.development,
        signer=key.subject[:255],
        sealed_at=ctx.now(),
    )
    ctx.db.add(doc)
    await ctx.db.flush()
    return doc


async def seal_agreement(
    ctx: Context,
    agreement: Agreement,
    version: AgreementVersion,
    signatures: list[AgreementSignature],
) -> SealedDocument:
    template = await ctx.db.get(AgreementTemplateVersion, version.template_version_id)
    assert template is not None  # a version always names its template (foreign key)
    code = new_code()
    inp = RenderInput(version.terms, version.content_hash, version.number, signatures)
    signed, key = await render_signed(ctx.settings, template.body, inp, code, reason="调解协议书")
    doc = await store(
        ctx, agreement, "agreement", code, signed, key,
        case_number=str(version.terms["case"]["number"]), content_hash=version.content_hash,  # type: ignore[index]
    )  # fmt: skip
    agreement.status = "sealed"
    agreement.sealed_at = doc.sealed_at
    await audit.record(
        ctx, "agreement.seal", "agreement", agreement.id,
        code=code, sha256=doc.sha256, pages=doc.pages, development=doc.development,
    )  # fmt: skip
    return doc


async def record_download(ctx: Context, doc: SealedDocument, *, via: str) -> None:
    """Every download of a sealed document is audited, before its first byte leaves."""
    await audit.record(
        ctx, "agreement.download", "agreement", doc.agreement_id,
        kind=doc.kind, code=doc.code, via=via,
    )  # fmt: skip


async def sealed_documents(db: AsyncSession, agreement_id: int) -> list[SealedDocument]:
    rows = await db.scalars(
        select(SealedDocument)
        .where(SealedDocument.agreement_id == agreement_id)
        .order_by(SealedDocument.id)
    )
    return list(rows)
