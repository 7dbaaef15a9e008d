"""Drafting: create a case's agreement and save the mediator's terms as new versions.

Every save is a new version with the SHA-256 of its canonical snapshot; a save that changes
the text voids the signatures given on earlier versions (they stay on record, bound to the
old hash), and the answer says how many were voided so the page can tell the parties to
sign again.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import can_draft_agreement, can_view_case
from server.agreements import templates
from server.agreements.documents import snapshot
from server.agreements.terms import Terms, content_hash
from server.audit import record
from server.errors import Conflict, Forbidden, NotFound
from server.models.accounts import User
from server.models.agreements import Agreement, AgreementSignature, AgreementVersion
from server.models.docket import Case
from server.models.sessions import MediationSession


async def load_agreement(db: AsyncSession, agreement_id: int, *, lock: bool = False) -> Agreement:
    stmt = select(Agreement).where(Agreement.id == agreement_id)
    if lock:
        # Serializes a save against a signature on PostgreSQL; SQLite writes are serial.
        stmt = stmt.with_for_update(of=Agreement)
    agreement = await db.scalar(stmt)
    if agreement is None:
        raise NotFound(f"agreement {agreement_id} not found", code="agreement_not_found")
    return agreement


async def load_agreement_for(
    db: AsyncSession, user: User, agreement_id: int, *, lock: bool = False
) -> Agreement:
    """An agreement whose case the user may see; 404 otherwise (existence does not leak)."""
    agreement = await load_agreement(db, agreement_id, lock=lock)
    if not can_view_case(user, agreement.case):
        raise NotFound(f"agreement {agreement_id} not found", code="agreement_not_found")
    return agreement


async def current_version(db: AsyncSession, agreement: Agreement) -> AgreementVersion:
    version = await db.get(AgreementVersion, agreement.current_version_id)
    if version is None:
        raise NotFound("this agreement has no text yet", code="no_version")
    return version


async def signatures_of(db: AsyncSession, version_id: int) -> list[AgreementSignature]:
    rows = await db.scalars(
        select(AgreementSignature)
        .where(AgreementSignature.version_id == version_id)
        .order_by(AgreementSignature.id)
    )
    return list(rows)


async def _check_session(db: AsyncSession, case: Case, session_id: int | None) -> None:
    if session_id is None:
        return
    session = await db.get(MediationSession, session_id)
    if session is None or session.case_id != case.id:
        raise NotFound(f"session {session_id} is not a session of this case", code="bad_session")


async def create(
    db: AsyncSession,
    user: User,
    case: Case,
    terms: Terms,
    *,
    court_name: str,
    session_id: int | None,
    request: web.Request | None,
) -> tuple[Agreement, AgreementVersion]:
    if not can_draft_agreement(user, case):
        raise Forbidden("only a mediator or judge drafts an agreement", code="not_drafter")
    existing = await db.scalar(select(Agreement.id).where(Agreement.case_id == case.id))
    if existing is not None:
        raise Conflict(
            f"this case already has agreement {existing}; edit it instead",
            code="agreement_exists",
            details={"agreement_id": existing},
        )
    await _check_session(db, case, session_id)
    template = await templates.choose(db, "agreement", case)
    data = snapshot(case, terms, template, court_name)
    agreement = Agreement(case_id=case.id, session_id=session_id, created_by_id=user.id)
    db.add(agreement)
    await db.flush()
    version = AgreementVersion(
        agreement_id=agreement.id,
        number=1,
        template_version_id=template.id,
        terms=data,
        content_hash=content_hash(data),
        created_by_id=user.id,
    )
    db.add(version)
    await db.flush()
    agreement.current_version_id = version.id
    await record(
        db, "agreement.create", "agreement", agreement.id, request=request,
        case_id=case.id, version=1, content_hash=version.content_hash,
    )  # fmt: skip
    return agreement, version


async def save_terms(
    db: AsyncSession,
    user: User,
    agreement: Agreement,
    terms: Terms,
    *,
    court_name: str,
    request: web.Request | None,
) -> tuple[AgreementVersion, int]:
    """A new version; returns it and how many signatures it voided."""
    case = agreement.case
    if not can_draft_agreement(user, case):
        raise Forbidden("only a mediator or judge edits an agreement", code="not_drafter")
    if agreement.status != "draft":
        raise Conflict("the agreement is sealed and can no longer change", code="sealed")
    previous = await current_version(db, agreement)
    template = await templates.choose(db, "agreement", case)
    data = snapshot(case, terms, template, court_name)
    digest = content_hash(data)
    voided = len(await signatures_of(db, previous.id))
    if digest == previous.content_hash:
        return previous, 0  # nothing changed: no new version, nobody has to sign again
    last = await db.scalar(
        select(func.max(AgreementVersion.number)).where(
            AgreementVersion.agreement_id == agreement.id
        )
    )
    version = AgreementVersion(
        agreement_id=agreement.id,
        number=(last or 0) + 1,
        template_version_id=template.id,
        terms=data,
        content_hash=digest,
        created_by_id=user.id,
    )
    db.add(version)
    await db.flush()
    agreement.current_version_id = version.id
    await record(
        db, "agreement.version", "agreement", agreement.id, request=request,
        version=version.number, content_hash=digest, voided_signatures=voided,
    )  # fmt: skip
    return version, voided
