"""Judicial confirmation (司法确认): the judge confirms a sealed agreement from pre-litigation
mediation; the case moves to ``judicial_confirmation`` (the docket's ``transition``, which
gives it its 民特 number), and the ruling is rendered, signed and sealed like the agreement.
"""

from __future__ import annotations

from server import audit
from server.access import can_confirm_agreement
from server.agreements import sealing, templates
from server.agreements.documents import RenderInput, RulingInfo
from server.agreements.drafting import current_version
from server.context import Context
from server.docket.cases import transition
from server.errors import Conflict, Forbidden
from server.models.agreements import Agreement, SealedDocument
from server.models.docket import Stage


async def confirm(ctx: Context, agreement: Agreement, *, note: str = "") -> SealedDocument:
    """The acting judge confirms a sealed agreement: the case moves on, the ruling is sealed."""
    judge = ctx.require_user()
    db = ctx.db
    settings = ctx.settings
    case = agreement.case
    if not can_confirm_agreement(judge, case):
        raise Forbidden("judicial confirmation is a judge's ruling", code="not_judge")
    if agreement.status != "sealed":
        raise Conflict("only a sealed, unconfirmed agreement can be confirmed", code="not_sealed")
    if not case.was_pre_litigation:
        raise Conflict(
            "only an agreement from pre-litigation mediation can be judicially confirmed",
            code="not_pre_litigation",
        )
    docs = await sealing.sealed_documents(db, agreement.id)
    sealed = next(d for d in docs if d.kind == "agreement")
    await transition(ctx, case, Stage.JUDICIAL_CONFIRMATION, note=note or "司法确认")
    version = await current_version(db, agreement)
    template = await templates.choose(db, "ruling", case)
    ruling = RulingInfo(
        number=case.number or "",
        date=ctx.today(),
        judge=judge.display_name,
        clerk=case.clerk.display_name if case.clerk else "",
        agreement_number=sealed.case_number,
        agreement_code=sealed.code,
        agreement_sealed_on=sealed.sealed_at.astimezone(settings.tz).date(),
    )
    inp = RenderInput(version.terms, version.content_hash, version.number, ruling=ruling)
    code = sealing.new_code()
    signed, key = await sealing.render_signed(
        settings, template.body, inp, code, reason="民事裁定书（司法确认）"
    )
    doc = await sealing.store(
        ctx, agreement, "ruling", code, signed, key,
        case_number=case.number or "", content_hash=version.content_hash,
    )  # fmt: skip
    agreement.status = "confirmed"
    agreement.confirmed_at = doc.sealed_at
    agreement.confirmed_by_id = judge.id
    await audit.record(
        ctx, "agreement.confirm", "agreement", agreement.id,
        ruling_number=case.number, code=code, sha256=doc.sha256,
    )  # fmt: skip
    return doc
