"""Building the docket's output models from rows, for the API and the pages alike.

``case_out`` and the other builders are pure functions of what was loaded; ``case_detail``
and ``cases_out`` load it first. ID numbers are masked here unless
``server.access.can_see_identity`` says the viewer may see them."""

from __future__ import annotations

from datetime import date

from server import access
from server.context import Context
from server.docket import stages
from server.docket.parties import latest_consents, latest_consents_many
from server.docket.queries import case_numbers, is_overdue, timeline
from server.docket.schemas import (
    CaseDetailOut,
    CaseNumberOut,
    CaseOut,
    DocketEntryOut,
    PartyOut,
    UserRef,
)
from server.formatting import mask_id_number, yuan
from server.models.accounts import User
from server.models.docket import Case, CaseNumber, DocketEntry, Party


def user_ref(user: User | None) -> UserRef | None:
    if user is None:
        return None
    return UserRef(id=user.id, display_name=user.display_name, role=user.role)


def party_out(party: Party, consents: dict[int, bool], *, unmasked: bool) -> PartyOut:
    return PartyOut(
        id=party.id,
        side=party.side,
        kind=party.kind,
        name=party.name,
        id_number=(party.id_number or "") if unmasked else mask_id_number(party.id_number),
        id_number_masked=not unmasked and bool(party.id_number),
        phone=party.phone or "",
        email=party.email or "",
        address=party.address or "",
        representative=party.representative or "",
        consent=consents.get(party.id),
    )


def case_out(
    case: Case, user: User, consents: dict[int, bool], *, today: date | None = None
) -> CaseOut:
    """The case as ``user`` may see it. ``overdue`` is computed only when ``today`` is given."""
    unmasked = access.can_see_identity(user, case)
    parties = list(case.parties)
    return CaseOut(
        id=case.id,
        number=case.number,
        tracking_code=case.tracking_code,
        cause=case.cause,
        facts=case.facts,
        claim_fen=case.claim_fen,
        claim_yuan=yuan(case.claim_fen),
        stage=case.stage,
        stage_label=stages.STAGE_LABELS[case.stage],
        source=case.source,
        office=case.office.code,
        office_id=case.office_id,
        mediator=user_ref(case.mediator),
        judge=user_ref(case.judge),
        clerk=user_ref(case.clerk),
        created_at=case.created_at,
        updated_at=case.updated_at,
        stage_entered_at=case.stage_entered_at,
        was_pre_litigation=case.was_pre_litigation,
        was_filed=case.was_filed,
        fast_track_entered_on=case.fast_track_entered_on,
        fast_track_deadline=case.fast_track_deadline,
        fast_track_deadline_provisional=bool(
            case.fast_track_deadline and case.fast_track_deadline_provisional
        ),
        overdue=today is not None and is_overdue(case, today),
        outcome=case.outcome,
        resolved_at=case.resolved_at,
        version=case.version,
        parties=[party_out(p, consents, unmasked=unmasked) for p in parties],
        consent_complete=stages.consent_complete(parties, consents),
        identity_visible=unmasked,
        allowed_moves=[str(s) for s in stages.allowed_moves(user, case)],
    )


def entry_out(entry: DocketEntry) -> DocketEntryOut:
    return DocketEntryOut(
        id=entry.id,
        at=entry.at,
        kind=entry.kind,
        actor=user_ref(entry.actor),
        from_stage=entry.from_stage,
        to_stage=entry.to_stage,
        text=entry.text,
        data=entry.data,
    )


def case_detail_out(
    case: Case,
    user: User,
    consents: dict[int, bool],
    entries: list[DocketEntry],
    numbers: list[CaseNumber],
    *,
    today: date | None = None,
) -> CaseDetailOut:
    """The case page's data: ``case_out`` plus its numbers and timeline."""
    base = case_out(case, user, consents, today=today)
    return CaseDetailOut(
        **base.model_dump(),
        numbers=[
            CaseNumberOut(
                number=n.number, track=n.track, year=n.year, seq=n.seq, assigned_at=n.assigned_at
            )
            for n in numbers
        ],
        timeline=[entry_out(e) for e in entries],
    )


async def case_detail(ctx: Context, case: Case) -> CaseDetailOut:
    """``case_detail_out`` of ``case`` as the context's user sees it today, with what it
    needs loaded (consents, timeline, numbers): what the API and the case page show."""
    return case_detail_out(
        case,
        ctx.require_user(),
        await latest_consents(ctx, case),
        await timeline(ctx, case),
        await case_numbers(ctx, case),
        today=ctx.today(),
    )


async def cases_out(ctx: Context, cases: list[Case]) -> list[CaseOut]:
    """``case_out`` of each case for the context's user, the consents loaded in one query."""
    user, today = ctx.require_user(), ctx.today()
    consents = await latest_consents_many(ctx, [c.id for c in cases])
    return [case_out(c, user, consents[c.id], today=today) for c in cases]
