"""The record every docket change leaves: one timeline entry on the case and one audit row.

Every function of ``server.docket`` that changes a case ends in ``log_change``, in the same
transaction as the change, so the timeline, the audit chain and the data never disagree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, select

from server import audit
from server.context import Context
from server.models.docket import Case, DocketEntry


async def lock_case(ctx: Context, case: Case) -> None:
    """Lock the case row for this transaction and make sure ``case`` is its stored state, so
    two concurrent changes to one case apply one after the other (PostgreSQL; SQLite
    serializes).

    The lock reads the stored version: every change to a case, its parties or its consents
    bumps it (``log_change``), so a case loaded at that version is current and is reloaded
    (with its people and parties, two more statements) only when it is not. A move that
    follows another in one session, as the demo seed's do, then costs one statement here."""
    stored = await ctx.db.scalar(select(Case.version).where(Case.id == case.id).with_for_update())
    state = inspect(case)
    if stored is None or stored != state.dict.get("version") or state.expired_attributes:
        await ctx.db.refresh(case)


async def log_change(
    ctx: Context,
    case: Case,
    kind: str,
    action: str,
    *,
    text: str = "",
    from_stage: str | None = None,
    to_stage: str | None = None,
    data: dict[str, Any] | None = None,
    bump: bool = True,
) -> DocketEntry:
    """Append a timeline entry and an audit row for ``ctx.actor`` at ``ctx.now()``, and bump
    the case's version (a new case stays at version 1)."""
    when = ctx.now()
    safe = audit_safe(data)
    user = ctx.user
    entry = DocketEntry(
        case_id=case.id,
        at=when,
        actor_id=user.id if user else None,
        kind=kind,
        from_stage=from_stage,
        to_stage=to_stage,
        text=text,
        data=safe,
    )
    ctx.db.add(entry)
    if bump:
        case.version = (case.version or 1) + 1
        case.updated_at = when
    await audit.record(
        ctx,
        action,
        "case",
        case.id,
        number=case.number,
        kind=kind,
        from_stage=from_stage,
        to_stage=to_stage,
        text=text,
        data=safe,
    )
    return entry


# Fields whose values never go into the timeline or the audit log in clear: the timeline is
# shown to everyone who may see the case, not only to those who may see identities.
_SECRET_FIELDS = frozenset({"id_number"})


def audit_safe(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SECRET_FIELDS:
            out[key] = "(changed)" if value else value
        elif isinstance(value, dict):
            out[key] = audit_safe(value)
        else:
            out[key] = value
    return out
