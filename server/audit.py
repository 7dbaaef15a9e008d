"""The append-only, hash-chained audit log: every change to a case, booking, recording or
agreement, and every download of a recording or agreement, is one row here.

Each row's hash covers its own content and the previous row's hash, so editing or deleting
any row breaks the chain from that row on; ``courtlink audit verify`` finds the first break.
Appends are serialized (an advisory lock on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) so
two writers never chain onto the same predecessor.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.context import Context
from server.models.audit import AuditEntry

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x636C61  # "cla": courtlink audit


def _digest(entry: AuditEntry) -> str:
    payload = json.dumps(
        {
            "id": entry.id,
            "at": entry.at.isoformat(),
            "actor": entry.actor,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_id": entry.object_id,
            "detail": entry.detail,
            "address": entry.address,
            "prev": entry.prev_hash,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


async def record(
    ctx: Context,
    action: str,
    object_type: str,
    object_id: object,
    **detail: Any,
) -> AuditEntry:
    """Append one row for ``ctx.actor`` in the caller's transaction (it commits or rolls
    back with the change)."""
    db = ctx.db
    if db.get_bind().dialect.name == "postgresql":
        await db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    last = await db.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    entry = AuditEntry(
        id=(last.id + 1) if last else 1,
        at=ctx.now(),
        actor=ctx.actor.audit_name,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=json.loads(json.dumps(detail, default=str, ensure_ascii=False)),
        address=ctx.actor.address,
        prev_hash=last.hash if last else GENESIS,
        hash="",
    )
    entry.hash = _digest(entry)
    db.add(entry)
    await db.flush()
    return entry


@dataclass
class ChainReport:
    rows: int
    first_bad_id: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None


async def verify_chain(db: AsyncSession) -> ChainReport:
    prev = GENESIS
    expected_id = 1
    count = 0
    result = await db.stream_scalars(select(AuditEntry).order_by(AuditEntry.id))
    async for entry in result:
        count += 1
        if entry.id != expected_id:
            return ChainReport(count, expected_id, f"row {expected_id} is missing")
        if entry.prev_hash != prev:
            return ChainReport(count, entry.id, "does not link to the row before it")
        if _digest(entry) != entry.hash:
            return ChainReport(count, entry.id, "content does not match its hash")
        prev = entry.hash
        expected_id += 1
    return ChainReport(count, None, "ok")
