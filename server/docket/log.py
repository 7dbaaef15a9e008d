"""The record every docket change leaves: one timeline entry on the case and one audit row.

Every function of ``server.docket`` that changes a case ends in ``log_change``, in the same
transaction as the change, so the timeline, the audit chain and the data never disagree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server import audit
from server.context import Context
from server.models.docket import Case, DocketEntry


async def lock_case(ctx: Context, case: Case) -> None:
    """Lock the case row for this transaction and reload it, so two concurrent changes to one
    case apply one after the other on the stored state (PostgreSQL; SQLite serializes)."""
    await ctx.db.execute(select(Case.id).where(Case.id == case.id).with_for_update())
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
