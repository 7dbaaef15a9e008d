"""What an answered call becomes: a live session on a reception case, which during the call
becomes the resident's intake case or is joined to a case already on the docket.

A session belongs to a case (recordings, the case file and agreements hang off it), so the
answer opens one at once: an ``intake`` case of the calling office (the resident is at that
office, so it registers it, ``source`` "office"), with a tracking code the resident can look
up, its mediator (or judge) the person who answered, who hosts the session. Recording, its
notice and consent follow the booked sessions' rules because it is one.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, update

from server import access, audit
from server.access import load_case_for
from server.bounds import RowId
from server.context import Actor, Context
from server.docket.cases import create_case, transition, update_case
from server.docket.intake import IntakeParty, YuanText, party_in
from server.docket.log import lock_case, log_change
from server.docket.parties import add_party
from server.docket.schemas import CaseCreate, CaseUpdate
from server.docket.stages import may_make
from server.errors import Conflict, Forbidden, NotFound
from server.models.accounts import Role, User
from server.models.desk import CallOutcome, DeskCall
from server.models.docket import Case, Stage
from server.models.documents import CaseDocument
from server.models.sessions import MediationSession
from server.sessions import create_session

# The reception case's cause until the resident's dispute is typed in during the call.
RECEPTION_CAUSE = "视频接访"
ADVICE_NOTE = "视频接访仅作咨询，未登记纠纷"
CLOSED = (Stage.WITHDRAWN, Stage.CLOSED)


class CallIntakeIn(BaseModel):
    """The resident's dispute, typed during the call by the office or the mediator."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    applicant: IntakeParty
    respondent: IntakeParty | None = None
    cause: str = Field(min_length=1, max_length=128, description="kind of dispute (案由)")
    facts: str = Field("", max_length=5000)
    claim_yuan: YuanText = Field(default=0, description='yuan as text, e.g. "1234.56"')
    consent_to_mediate: bool = Field(description="the applicant agrees to mediate")


class AttachIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: RowId = Field(description="the case on the docket this call is about")


async def open_reception(ctx: Context, call: DeskCall, host: User) -> tuple[Case, MediationSession]:
    """The reception case and its session, hosted by whoever answered."""
    caller = await ctx.db.get(User, call.caller_id)
    if caller is None:  # a foreign key: never
        raise NotFound("the calling office's account is gone", code="call_not_found")
    as_office = ctx.acting_as(Actor.for_user(caller, ctx.actor.address))
    case = await create_case(
        as_office,
        CaseCreate(cause=RECEPTION_CAUSE, facts="", claim_fen=0, office=None, parties=[]),
        office_id=call.office_id,
        source="office",
    )
    field = "judge" if host.role == Role.JUDGE else "mediator"
    setattr(case, f"{field}_id", host.id)
    setattr(case, field, host)
    await log_change(
        ctx, case, "assigned", "case.assign",
        data={"changes": {f"{field}_id": [None, host.id]}, "by": "desk", "call_id": call.id},
    )  # fmt: skip
    session = await create_session(ctx, case, kind="mediation", host_id=host.id)
    return case, session


async def close_as_advice(ctx: Context, call: DeskCall) -> None:
    """A call that ended with nothing registered or attached was advice only (咨询): its
    reception case, still empty, is no dispute and leaves the intake queue as withdrawn, in
    the calling office's name (it registered the case, and withdrawing at intake is the
    office's move). The case stays, holding the call's session and what it recorded; the
    reports do not count it (``server.reports``)."""
    call.outcome = CallOutcome.ADVICE
    case = await ctx.db.get(Case, call.case_id) if call.case_id is not None else None
    caller = await ctx.db.get(User, call.caller_id)
    if case is None or caller is None:
        return
    # Its stored state: another node's sweep, or the office by hand, may have moved it.
    await lock_case(ctx, case)
    if case.stage != Stage.INTAKE or case.parties or not may_make(caller, case, Stage.WITHDRAWN):
        return  # moved already, or the office's account no longer may: a clerk's to do
    as_office = ctx.acting_as(Actor.for_user(caller, ctx.actor.address))
    await transition(as_office, case, Stage.WITHDRAWN, note=ADVICE_NOTE)


async def _live_call(ctx: Context, call: DeskCall) -> Case:
    if call.case_id is None or call.outcome is not None:
        raise Conflict("this call was already registered or attached", code="call_registered")
    case = await ctx.db.get(Case, call.case_id)
    if case is None:
        raise NotFound("the call's case is gone", code="case_not_found")
    return case


async def register_case(ctx: Context, call: DeskCall, data: CallIntakeIn) -> Case:
    """The resident's details, typed during the call: the reception case is their intake case
    from now on, with the applicant's answer to "do you agree to mediate?" as their consent."""
    if not access.can_register_call(ctx.require_user(), call):
        raise Forbidden(
            "the host or the calling office registers the call", code="may_not_register"
        )
    case = await _live_call(ctx, call)
    await update_case(
        ctx,
        case,
        CaseUpdate(cause=data.cause, facts=data.facts, claim_fen=data.claim_yuan, version=None),
    )
    await add_party(
        ctx, case, party_in("applicant", data.applicant, consent=data.consent_to_mediate)
    )
    if data.respondent is not None:
        await add_party(ctx, case, party_in("respondent", data.respondent, consent=None))
    call.outcome = CallOutcome.CASE
    await audit.record(ctx, "desk.register", "call", call.id, case_id=case.id)
    return case


async def attach(ctx: Context, call: DeskCall, case_id: int) -> Case:
    """The call is about a case already on the docket: its session (with what it recorded)
    and any document brought in moves there, and the reception case, still empty, is gone."""
    user = ctx.require_user()
    if not access.can_attach_call(user, call):
        raise Forbidden("the person who answered attaches the call", code="may_not_attach")
    reception = await _live_call(ctx, call)
    target = await load_case_for(ctx.db, user, case_id)
    if target.id == reception.id:
        raise Conflict("that is this call's own case", code="same_case")
    if target.stage in CLOSED:
        raise Conflict("that case is closed", code="case_closed")
    if reception.parties:
        raise Conflict("this call's case has parties already", code="call_registered")
    await ctx.db.execute(
        update(MediationSession)
        .where(MediationSession.case_id == reception.id)
        .values(case_id=target.id)
        .execution_options(synchronize_session=False)
    )
    await ctx.db.execute(
        update(CaseDocument)
        .where(CaseDocument.case_id == reception.id)
        .values(case_id=target.id)
        .execution_options(synchronize_session=False)
    )
    call.case_id, call.outcome = target.id, CallOutcome.ATTACHED
    await log_change(ctx, target, "call_attached", "desk.attach", data={"call_id": call.id})
    await audit.record(
        ctx, "desk.attach", "call", call.id, case_id=target.id, reception_id=reception.id
    )
    await ctx.db.flush()
    await ctx.db.execute(delete(Case).where(Case.id == reception.id))
    ctx.db.expunge(reception)
    return target
