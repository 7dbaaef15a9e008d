"""The electronic case file (电子卷宗): adding documents to a case, listing and opening them.

Who may do what is ``server.access`` (``can_view_documents``, ``can_add_document``); this
module takes a case the caller was already allowed to reach, or a party's own invite.

A document's type is read from its first bytes, never from its name or the type the client
claims: PDF, JPEG and PNG only (what a resident's phone or an office scanner makes, and what
every browser shows without a plug-in). It is at most ``MAX_BYTES``. The file is written
under ``<data_dir>/documents/case-<id>/`` with a random name (the uploader's name is kept in
the row, shown and offered on download, never used as a path), before its row: a unit of
work that fails leaves at worst a file no row names, never a row without its file. Every
upload and every download goes into the audit log with the document's SHA-256.
"""

from __future__ import annotations

import asyncio
import hashlib
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from server.access import can_party_open_document
from server.audit import record
from server.context import Context
from server.errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedMedia
from server.files import write_atomic
from server.models.docket import Case, Party
from server.models.documents import CaseDocument, DocumentShowing
from server.models.sessions import Invite, MediationSession
from server.settings import Settings

MAX_BYTES = 20 * 1024 * 1024  # a phone photo or a scanned bundle of evidence; not a video
# The first bytes of each accepted type: (prefix, content type, file extension).
SIGNATURES = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)
EXTENSIONS = {"pdf": (".pdf",), "jpg": (".jpg", ".jpeg"), "png": (".png",)}
TITLE_MAX = 200
NAME_MAX = 255


@dataclass(frozen=True)
class DocumentFile:
    """A document to send: its row and where its bytes are."""

    doc: CaseDocument
    path: Path


def sniff(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) of an accepted type, from the bytes; None otherwise."""
    for prefix, content_type, ext in SIGNATURES:
        if data.startswith(prefix):
            return content_type, ext
    return None


def root(settings: Settings) -> Path:
    return (settings.data_dir / "documents").resolve()


def _on_disk(settings: Settings, relpath: str) -> Path:
    """The stored relative path under the documents root; nothing outside it is ever read."""
    base = root(settings)
    path = (base / relpath).resolve()
    if path == base or not path.is_relative_to(base) or not path.is_file():
        raise NotFound("no such document", code="document_not_found")
    return path


def clean_name(filename: str, ext: str) -> str:
    """The uploader's file name as shown and offered on download: no directories, no control
    characters, never empty, ending in the type's extension, within the column (cut from
    the front, so the extension stays)."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip() or "document"
    if not name.lower().endswith(EXTENSIONS[ext]):
        name += "." + ext
    return name[-NAME_MAX:]


async def add_document(
    ctx: Context,
    case: Case,
    data: bytes,
    *,
    filename: str,
    title: str = "",
    party: Party | None = None,
    source: str = "staff",
) -> CaseDocument:
    """Keep ``data`` in ``case``'s file, brought by ``ctx.actor`` (or ``party`` through their
    invite link). 400 empty, 413 too large, 415 not a PDF, JPEG or PNG."""
    if not data:
        raise BadRequest("choose a file to upload", code="empty_body")
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(
            "a document is at most {mb} MB", values={"mb": MAX_BYTES // (1024 * 1024)}
        )
    found = sniff(data)
    if found is None:
        raise UnsupportedMedia(
            "only PDF, JPEG and PNG files can be added to the case file",
            code="document_type",
        )
    content_type, ext = found
    title = " ".join(title.split())
    if len(title) > TITLE_MAX:
        raise BadRequest(
            "the title is at most {most} characters",
            code="invalid_title",
            values={"most": TITLE_MAX},
        )
    relpath = f"case-{case.id}/{uuid.uuid4().hex}.{ext}"
    await asyncio.to_thread(write_atomic, root(ctx.settings) / relpath, data)
    user = ctx.actor.user
    doc = CaseDocument(
        case_id=case.id,
        title=title,
        filename=clean_name(filename, ext),
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        path=relpath,
        source=source,
        uploaded_by_id=user.id if user is not None and party is None else None,
        party_id=party.id if party is not None else None,
        created_at=ctx.now(),
    )
    ctx.db.add(doc)
    await ctx.db.flush()
    await record(
        ctx, "document.uploaded", "document", doc.id, case_id=case.id, filename=doc.filename,
        content_type=content_type, size=doc.size, sha256=doc.sha256, source=source,
    )  # fmt: skip
    return doc


async def documents_of(
    ctx: Context, case: Case, *, party: Party | None = None
) -> list[CaseDocument]:
    """The case's documents, newest first; with ``party``, only those that party brought
    (a party sees what they gave, not the other side's evidence or ID scans)."""
    query = select(CaseDocument).where(CaseDocument.case_id == case.id)
    if party is not None:
        query = query.where(CaseDocument.party_id == party.id)
    rows = await ctx.db.scalars(query.order_by(CaseDocument.id.desc()))
    return list(rows.all())


async def open_document(ctx: Context, case: Case, document_id: int) -> DocumentFile:
    """One of ``case``'s documents, to download; audited. Another case's is not found."""
    doc = await ctx.db.get(CaseDocument, document_id)
    if doc is None or doc.case_id != case.id:
        raise NotFound("no such document", code="document_not_found")
    if doc.purged_at is not None:
        raise NotFound(
            "this document was deleted when the case's retention period ended",
            code="document_purged",
        )
    path = _on_disk(ctx.settings, doc.path)
    await record(ctx, "document.downloaded", "document", doc.id, case_id=case.id, sha256=doc.sha256)
    return DocumentFile(doc, path)


def zip_safe(text: str) -> str:
    """A part of a name inside a zip that every unzipper on Windows takes as it is."""
    return "".join(c for c in text if c not in '/\\:*?"<>|')


async def for_export(ctx: Context, cases: list[Case]) -> list[tuple[str, Path]]:
    """Each case's file for the clerks' zip, as (name in the zip, file): under the case's
    number, ``卷宗``, then each document by id and name. Each is audited as downloaded by
    export, as a download is."""
    entries = []
    for case in cases:
        number = zip_safe(case.number or "") or f"case{case.id}"
        kept = [d for d in await documents_of(ctx, case) if d.purged_at is None]
        for doc in reversed(kept):  # oldest first, as filed
            entries.append((f"{number}-卷宗/{doc.id}-{zip_safe(doc.filename)}",
                            _on_disk(ctx.settings, doc.path)))  # fmt: skip
            await record(
                ctx, "document.downloaded", "document", doc.id, case_id=case.id,
                sha256=doc.sha256, via="zip",
            )  # fmt: skip
    return entries


@dataclass(frozen=True)
class Expired:
    doc: CaseDocument
    case: Case
    expires_at: datetime


async def expired(ctx: Context, days_for: Callable[[Case], int | None]) -> list[Expired]:
    """Documents whose case's retention period has run out: ``days_for`` is the case's
    period in days from its resolution (None: kept for ever; the recordings' period,
    ``recordings.retention``, so a case's file and its recordings go together)."""
    rows = await ctx.db.execute(
        select(CaseDocument, Case)
        .join(Case, Case.id == CaseDocument.case_id)
        .where(CaseDocument.purged_at.is_(None), Case.resolved_at.is_not(None))
        .order_by(CaseDocument.id)
    )
    out = []
    for doc, case in rows.all():
        days = days_for(case)
        if days is None or case.resolved_at is None:
            continue
        expires = case.resolved_at + timedelta(days=days)
        if expires <= ctx.now():
            out.append(Expired(doc, case, expires))
    return out


async def purge(ctx: Context, days_for: Callable[[Case], int | None]) -> list[Expired]:
    """Delete the bytes of every expired document; keep and mark its row; audit each."""
    done = await expired(ctx, days_for)
    for item in done:
        path = root(ctx.settings) / item.doc.path
        await asyncio.to_thread(path.unlink, missing_ok=True)
        item.doc.purged_at = ctx.now()
        await record(
            ctx, "document.purged", "document", item.doc.id, case_id=item.case.id,
            sha256=item.doc.sha256, expired=item.expires_at.isoformat(),
        )  # fmt: skip
    return done


async def record_showing(
    ctx: Context, session_id: int, document_id: int, room: str, party_ids: list[int]
) -> DocumentShowing | None:
    """The host showed a document to a room of the session: kept (who saw it; the parties
    may open it afterwards) and audited. A document not of the session's case, or purged,
    is not recorded (the parties cannot open it; the host's page only showed a number)."""
    session = await ctx.db.get(MediationSession, session_id)
    doc = await ctx.db.get(CaseDocument, document_id)
    if session is None or doc is None or doc.case_id != session.case_id or doc.purged_at:
        return None
    user = ctx.actor.user
    row = DocumentShowing(
        document_id=doc.id, session_id=session_id, room=room, party_ids=sorted(set(party_ids)),
        shown_by_id=user.id if user is not None else None, shown_at=ctx.now(),
    )  # fmt: skip
    ctx.db.add(row)
    await ctx.db.flush()
    await record(
        ctx, "document.shown", "document", doc.id, case_id=doc.case_id, session_id=session_id,
        room=room, party_ids=row.party_ids,
    )  # fmt: skip
    return row


async def open_for_party(ctx: Context, invite: Invite, document_id: int) -> DocumentFile:
    """A document through a party's link: one they brought, or one shown to them; audited
    as downloaded by the party. Anything else is not found."""
    doc = await ctx.db.get(CaseDocument, document_id)
    case_id = invite.session.case_id
    if doc is None or doc.case_id != case_id:
        raise NotFound("no such document", code="document_not_found")
    showings = await ctx.db.scalars(
        select(DocumentShowing.party_ids).where(
            DocumentShowing.document_id == doc.id,
            DocumentShowing.session_id == invite.session_id,
        )
    )
    shown_to = [pid for ids in showings.all() for pid in ids]
    if not can_party_open_document(invite.party_id, doc.party_id, shown_to):
        raise NotFound("no such document", code="document_not_found")
    case = await ctx.db.get(Case, case_id)
    assert case is not None
    return await open_document(ctx, case, doc.id)
