"""The record every docket change leaves: one timeline entry on the case and one audit row.

Every function of ``server.docket`` that changes a case ends in ``log_change``, in the same
transaction as the change, so the timeline, the audit chain and the data never disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import audit
from server.models.accounts import User
from server.models.base import utcnow
from server.models.docket import Case, DocketEntry
from server.settings import Settings
from server.web.keys import SETTINGS

_DEFAULTS = Settings.model_fields


def court_code(request: web.Request | None, settings: Settings | None = None) -> str:
    """The court code for case numbers: explicit settings, the app's, or the default."""
    if settings is not None:
        return settings.court_code
    if request is not None:
        return request.app[SETTINGS].court_code
    return str(_DEFAULTS["court_code"].default)


def court_tz(request: web.Request | None, settings: Settings | None = None) -> ZoneInfo:
    if settings is not None:
        return settings.tz
    if request is not None:
        return request.app[SETTINGS].tz
    return ZoneInfo(str(_DEFAULTS["timezone"].default))


def actor_name(actor: User | None, request: web.Request | None) -> str | None:
    # Without a request (CLI, seed) the audit row still names who acted.
    if request is None and actor is not None:
        return f"user:{actor.id}:{actor.username}"
    return None


async def lock_case(db: AsyncSession, case: Case) -> None:
    """Lock the case row for this transaction and reload it, so two concurrent changes to one
    case apply one after the other on the stored state (PostgreSQL; SQLite serializes)."""
    await db.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    await db.refresh(case)


async def log_change(
    db: AsyncSession,
    actor: User | None,
    case: Case,
    kind: str,
    action: str,
    *,
    text: str = "",
    from_stage: str | None = None,
    to_stage: str | None = None,
    data: dict[str, Any] | None = None,
    request: web.Request | None = None,
    at: datetime | None = None,
    bump: bool = True,
) -> DocketEntry:
    """Append a timeline entry and an audit row, and bump the case's version (a new case
    stays at version 1)."""
    when = at or utcnow()
    safe = audit_safe(data)
    entry = DocketEntry(
        case_id=case.id,
        at=when,
        actor_id=actor.id if actor else None,
        kind=kind,
        from_stage=from_stage,
        to_stage=to_stage,
        text=text,
        data=safe,
    )
    db.add(entry)
    if bump:
        case.version = (case.version or 1) + 1
        case.updated_at = when
    await audit.record(
        db,
        action,
        "case",
        case.id,
        request=request,
        actor=actor_name(actor, request),
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
