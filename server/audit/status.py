"""How far behind the sequencer is, for the admin page: rows chained and waiting, how long
the oldest has waited, the delay from write to chained over the latest rows, the latest
checkpoint and the public key an auditor checks checkpoints with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from server.access import can_view_audit_status
from server.audit.chain import chain_head, pending_count
from server.audit.checkpoints import key_id, latest, public_pem, signing_key
from server.context import Context
from server.errors import Forbidden
from server.models.audit import AuditCheckpoint, AuditEntry
from server.models.base import utcnow

RECENT = 1000  # the delay figures are over this many latest chained rows


@dataclass(frozen=True)
class ChainStatus:
    chained: int
    pending: int
    oldest_pending_s: float | None  # how long the oldest waiting row has waited
    delay_p50_s: float | None  # from written to chained, over the latest rows
    delay_p95_s: float | None
    delay_max_s: float | None
    recent: int  # how many latest chained rows the delay figures are over
    checkpoint: AuditCheckpoint | None
    checkpoints: int
    key_id: str
    public_pem: str


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def chain_status(ctx: Context) -> ChainStatus:
    if not can_view_audit_status(ctx.require_user()):
        raise Forbidden("your role may not do this")
    db = ctx.db
    head = await chain_head(db)
    pending = await pending_count(db)
    oldest: datetime | None = await db.scalar(
        select(func.min(AuditEntry.written_at)).where(AuditEntry.seq.is_(None))
    )
    recent = (
        await db.execute(
            select(AuditEntry.written_at, AuditEntry.chained_at)
            .where(AuditEntry.seq.is_not(None), AuditEntry.written_at.is_not(None))
            .order_by(AuditEntry.seq.desc())
            .limit(RECENT)
        )
    ).all()
    delays = sorted(
        max(0.0, (chained - written).total_seconds())
        for written, chained in recent
        if written is not None and chained is not None
    )
    now = utcnow()  # real time, as ``written_at`` and ``chained_at``
    settings = ctx.settings
    return ChainStatus(
        chained=head.size,
        pending=pending,
        oldest_pending_s=(now - oldest).total_seconds() if oldest else None,
        delay_p50_s=_quantile(delays, 0.5) if delays else None,
        delay_p95_s=_quantile(delays, 0.95) if delays else None,
        delay_max_s=delays[-1] if delays else None,
        recent=len(delays),
        checkpoint=await latest(db),
        checkpoints=int(await db.scalar(select(func.count(AuditCheckpoint.id))) or 0),
        key_id=key_id(signing_key(settings).public_key()),
        public_pem=public_pem(settings),
    )
