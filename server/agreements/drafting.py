"""Drafting: create a case's agreement and save the mediator's terms as new versions.

Every save is a new version with the SHA-256 of its canonical snapshot; a save that changes
the text voids the signatures given on earlier versions (they stay on record, bound to the
old hash), and the answer says how many were voided so the page can tell the parties to
sign again. The drafter's live preview and the read-only view of the current version are
rendered here too, so the API and the pages show the same document.

Who may do what (``server.access``): any mediator or judge who may see the case drafts the
first version and previews; only the case's assigned mediator (or, in fast-track, its judge)
saves new terms over it (``can_rewrite_agreement``); the preview shows the parties' full ID
numbers only to who may read the original (``can_read_agreement_original``), masked to the
rest, and the original itself is refused to them (``require_original``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import audit
from server.access import (
    can_draft_agreement,
    can_read_agreement_original,
    can_rewrite_agreement,
    can_view_case,
)
from server.agreements import templates
from server.agreements.documents import RenderInput, masked, snapshot
from server.agreements.pdf import render_html
from server.agreements.terms import Terms, content_hash
from server.context import Context
from server.errors import Conflict, Forbidden, NotFound
from server.guests import agreement_guests
from server.models.accounts import User
from server.models.agreements import (
    Agreement,
    AgreementSignature,
    AgreementTemplateVersion,
    AgreementVersion,
)
from server.models.docket import Case
from server.models.sessions import MediationSession


async def load_agreement(db: AsyncSession, agreement_id: int, *, lock: bool = False) -> Agreement:
    stmt = select(Agreement).where(Agreement.id == agreement_id)
    if lock:
        # Serializes a save against a signature on PostgreSQL; SQLite writes are serial.
        stmt = stmt.with_for_update(of=Agreement)
    agreement = await db.scalar(stmt)
    if agreement is None:
        raise NotFound(
            "agreement {id} not found", code="agreement_not_found", values={"id": agreement_id}
        )
    return agreement


async def agreement_of_case(db: AsyncSession, case_id: int) -> Agreement | None:
    """The case's agreement (a case has one at most), if drafted yet."""
    agreement: Agreement | None = await db.scalar(
        select(Agreement).where(Agreement.case_id == case_id)
    )
    return agreement


async def load_agreement_for(ctx: Context, agreement_id: int, *, lock: bool = False) -> Agreement:
    """An agreement whose case the acting user may see; 404 otherwise (existence does not
    leak)."""
    user = ctx.require_user()
    agreement = await load_agreement(ctx.db, agreement_id, lock=lock)
    if not can_view_case(user, agreement.case):
        raise NotFound(
            "agreement {id} not found", code="agreement_not_found", values={"id": agreement_id}
        )
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
        raise NotFound(
            "session {id} is not a session of this case",
            code="bad_session",
            values={"id": session_id},
        )


def _check_drafter(ctx: Context, case: Case) -> User:
    user = ctx.require_user()
    if not can_draft_agreement(user, case):
        raise Forbidden("only a mediator or judge drafts an agreement", code="not_drafter")
    return user


def require_original(ctx: Context, case: Case) -> None:
    """The agreement's unmasked text and its sealed PDFs: 403 for who may only see the case."""
    if not can_read_agreement_original(ctx.require_user(), case):
        raise Forbidden(
            "the agreement's original is for the parties, the case's assigned staff and the clerks",
            code="original_withheld",
        )


async def _add_version(
    ctx: Context,
    agreement: Agreement,
    number: int,
    template_id: int,
    data: dict[str, Any],
    digest: str,
) -> AgreementVersion:
    """The agreement's new current version, by the acting drafter."""
    version = AgreementVersion(
        agreement_id=agreement.id,
        number=number,
        template_version_id=template_id,
        terms=data,
        content_hash=digest,
        created_by_id=ctx.require_user().id,
        created_at=ctx.now(),
    )
    ctx.db.add(version)
    await ctx.db.flush()
    agreement.current_version_id = version.id
    return version


async def create(
    ctx: Context, case: Case, terms: Terms, *, session_id: int | None = None
) -> tuple[Agreement, AgreementVersion]:
    """The case's agreement with its first version, drafted by the acting mediator or judge
    under the court's name."""
    user = _check_drafter(ctx, case)
    db = ctx.db
    existing = await db.scalar(select(Agreement.id).where(Agreement.case_id == case.id))
    if existing is not None:
        raise Conflict(
            "this case already has agreement {id}; edit it instead",
            code="agreement_exists",
            values={"id": existing},
            details={"agreement_id": existing},
        )
    await _check_session(db, case, session_id)
    template = await templates.choose(db, "agreement", case)
    data = snapshot(
        case, terms, template, ctx.settings.court_name, await agreement_guests(ctx.db, case.id)
    )
    agreement = Agreement(
        case_id=case.id, session_id=session_id, created_by_id=user.id, created_at=ctx.now()
    )
    db.add(agreement)
    await db.flush()
    version = await _add_version(ctx, agreement, 1, template.id, data, content_hash(data))
    await audit.record(
        ctx, "agreement.create", "agreement", agreement.id,
        case_id=case.id, version=1, content_hash=version.content_hash,
    )  # fmt: skip
    return agreement, version


async def save_terms(
    ctx: Context, agreement: Agreement, terms: Terms
) -> tuple[AgreementVersion, int]:
    """A new version by the acting drafter; returns it and how many signatures it voided."""
    case = agreement.case
    if not can_rewrite_agreement(ctx.require_user(), case):
        raise Forbidden(
            "only the case's mediator (in fast-track, its judge) changes the agreement's terms",
            code="not_case_mediator",
        )
    db = ctx.db
    if agreement.status != "draft":
        raise Conflict("the agreement is sealed and can no longer change", code="sealed")
    previous = await current_version(db, agreement)
    template = await templates.choose(db, "agreement", case)
    data = snapshot(
        case, terms, template, ctx.settings.court_name, await agreement_guests(ctx.db, case.id)
    )
    digest = content_hash(data)
    voided = len(await signatures_of(db, previous.id))
    if digest == previous.content_hash:
        return previous, 0  # nothing changed: no new version, nobody has to sign again
    last = await db.scalar(
        select(func.max(AgreementVersion.number)).where(
            AgreementVersion.agreement_id == agreement.id
        )
    )
    version = await _add_version(ctx, agreement, (last or 0) + 1, template.id, data, digest)
    await audit.record(
        ctx, "agreement.version", "agreement", agreement.id,
        version=version.number, content_hash=digest, voided_signatures=voided,
    )  # fmt: skip
    return version, voided


async def preview_html(ctx: Context, case: Case, terms: Terms) -> str:
    """Unsaved terms rendered as the case's next version would read (the live preview); the
    parties' ID numbers masked unless the user may read the original."""
    user = _check_drafter(ctx, case)
    template = await templates.choose(ctx.db, "agreement", case)
    data = snapshot(
        case, terms, template, ctx.settings.court_name, await agreement_guests(ctx.db, case.id)
    )
    agreement = await agreement_of_case(ctx.db, case.id)
    number = 1
    if agreement is not None and agreement.current_version_id is not None:
        number = (await current_version(ctx.db, agreement)).number + 1
    digest = content_hash(data)  # the hash the saved version would carry, masked or not
    if not can_read_agreement_original(user, case):
        data = masked(data)
    return render_html(template.body, RenderInput(data, digest, number))


async def document_html(ctx: Context, agreement: Agreement) -> str:
    """The current version with the signatures given on it, read-only (the caller has
    checked who may read it)."""
    version = await current_version(ctx.db, agreement)
    template = await ctx.db.get(AgreementTemplateVersion, version.template_version_id)
    assert template is not None  # a version always names its template (foreign key)
    sigs = await signatures_of(ctx.db, version.id)
    inp = RenderInput(version.terms, version.content_hash, version.number, sigs)
    inp.tz = ctx.settings.timezone
    return render_html(template.body, inp)
