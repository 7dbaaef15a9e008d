"""Parties of a case and their consent to mediate.

A consent is never edited: each answer is a new row and the latest row per party counts, so
the docket keeps the history of who said what when.
"""

from __future__ import annotations

from sqlalchemy import insert, select

from server import access
from server.context import Context
from server.docket.log import log_change
from server.docket.schemas import PartyIn, PartyUpdate, validate_id_number
from server.errors import Forbidden, Invalid, NotFound, fields_invalid
from server.models.docket import Case, Consent, Party


async def latest_consents(ctx: Context, case: Case) -> dict[int, bool]:
    """party_id -> that party's latest recorded answer (parties never asked are absent)."""
    rows = await ctx.db.execute(
        select(Consent.party_id, Consent.consents)
        .where(Consent.case_id == case.id)
        .order_by(Consent.id)
    )
    return {party_id: bool(answer) for party_id, answer in rows.all()}


async def latest_consents_many(ctx: Context, case_ids: list[int]) -> dict[int, dict[int, bool]]:
    """case_id -> ``latest_consents`` of that case, in one query (for lists)."""
    out: dict[int, dict[int, bool]] = {cid: {} for cid in case_ids}
    if not case_ids:
        return out
    rows = await ctx.db.execute(
        select(Consent.case_id, Consent.party_id, Consent.consents)
        .where(Consent.case_id.in_(case_ids))
        .order_by(Consent.id)
    )
    for case_id, party_id, answer in rows.all():
        out[case_id][party_id] = bool(answer)
    return out


def _require_edit(ctx: Context, case: Case) -> None:
    # Without a user it is the system (the demo seed, a background job) changing the case.
    user = ctx.user
    if user is not None and not access.can_edit_case(user, case):
        raise Forbidden("you may not change this case")


def _party_fields(data: PartyIn) -> dict[str, str | None]:
    return {
        "side": data.side,
        "kind": data.kind,
        "name": data.name,
        "id_number": data.id_number or None,
        "phone": data.phone or None,
        "email": data.email or None,
        "address": data.address or None,
        "representative": data.representative or None,
    }


def _consent_row(ctx: Context, case: Case, party: Party, consents: bool, note: str) -> Consent:
    user = ctx.user
    return Consent(
        case_id=case.id,
        party_id=party.id,
        consents=consents,
        recorded_by_id=user.id if user else None,
        recorded_at=ctx.now(),
        note=note,
    )


def new_parties(parties: list[PartyIn]) -> list[Party]:
    """The party rows of a case being registered, for its ``parties`` (one INSERT at flush)."""
    return [Party(**_party_fields(data)) for data in parties]


async def add_initial_consents(ctx: Context, case: Case, parties: list[PartyIn]) -> None:
    """The consent answers given with ``parties`` (``case.parties``, flushed, in that order)
    as registered, in one statement, without logging: the caller logs."""
    user = ctx.user
    rows = [
        {
            "case_id": case.id,
            "party_id": party.id,
            "consents": data.consent,
            "recorded_by_id": user.id if user else None,
            "recorded_at": ctx.now(),
            "note": "given when the party was registered",
        }
        for party, data in zip(case.parties, parties, strict=True)
        if data.consent is not None
    ]
    if rows:
        await ctx.db.execute(insert(Consent), rows)


async def insert_party(ctx: Context, case: Case, data: PartyIn) -> Party:
    """Add the party row (and its consent answer, if given) without logging: the caller logs."""
    party = Party(case_id=case.id, **_party_fields(data))
    ctx.db.add(party)
    await ctx.db.flush()
    if data.consent is not None:
        ctx.db.add(
            _consent_row(ctx, case, party, data.consent, "given when the party was registered")
        )
    return party


async def add_party(ctx: Context, case: Case, data: PartyIn) -> Party:
    """Add a party (with its consent answer if ``data.consent`` is set)."""
    _require_edit(ctx, case)
    party = await insert_party(ctx, case, data)
    await log_change(
        ctx,
        case,
        "party_added",
        "party.add",
        text=f"{data.side}: {data.name}",
        data={"party_id": party.id, "side": data.side, "kind": data.kind, "consent": data.consent},
    )
    await ctx.db.refresh(case)
    return party


async def _party_of(ctx: Context, case: Case, party_id: int) -> Party:
    party = await ctx.db.get(Party, party_id)
    if party is None or party.case_id != case.id:
        # A party of another case is as unknown here as a party that does not exist.
        raise NotFound(
            "party {id} not found in this case", code="party_not_found", values={"id": party_id}
        )
    return party


async def update_party(ctx: Context, case: Case, party_id: int, data: PartyUpdate) -> Party:
    """Change the fields sent; the ID number is re-checked against the resulting kind."""
    _require_edit(ctx, case)
    party = await _party_of(ctx, case, party_id)
    sent = data.model_dump(exclude_unset=True)
    kind = sent.get("kind") or party.kind
    if "id_number" in sent or "kind" in sent:
        try:
            sent["id_number"] = validate_id_number(kind, sent.get("id_number", party.id_number))
        except ValueError as exc:
            raise fields_invalid([("id_number", Invalid(str(exc)))]) from None
    changes: dict[str, object] = {}
    for field, value in sent.items():
        if field in ("side", "kind", "name") and value is None:
            raise Invalid("{field}: may not be null", values={"field": field})
        new = value or None  # an emptied text field is stored as absent
        old = getattr(party, field)
        if new != old:
            changes[field] = [old, new]
            setattr(party, field, new)
    if changes:
        await log_change(
            ctx,
            case,
            "party_updated",
            "party.update",
            text=party.name,
            data={"party_id": party.id, "changes": changes},
        )
        await ctx.db.flush()
        await ctx.db.refresh(case)
    return party


async def record_consent(
    ctx: Context, case: Case, party_id: int, consents: bool, note: str = ""
) -> Consent:
    """Record a party's answer to "do you agree to mediate?". Anyone who may see the case may
    record it: office staff take the answer from the resident at their counter, mediators and
    clerks by phone. The answer is kept as a new row; the latest row counts."""
    user = ctx.user
    if user is not None and not access.can_view_case(user, case):
        raise NotFound("case {id} not found", code="case_not_found", values={"id": case.id})
    party = await _party_of(ctx, case, party_id)
    row = _consent_row(ctx, case, party, consents, note)
    ctx.db.add(row)
    await ctx.db.flush()
    await log_change(
        ctx,
        case,
        "consent",
        "consent.record",
        text=f"{party.name}: {'agrees' if consents else 'declines'} to mediate"
        + (f" ({note})" if note else ""),
        data={"party_id": party.id, "consents": consents},
    )
    return row
