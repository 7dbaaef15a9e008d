"""The append-only, hash-chained audit log: every change to a case, booking, recording or
agreement, and every download of a recording or agreement, is one row here.

Writing a row takes no lock: ``record`` adds it to the change's own transaction, unchained,
so it commits or rolls back with the change and concurrent requests never wait for each
other here. After the commit one sequencer per cluster (``server.audit.chain``) gives each
committed row its place: a position ``seq`` in commit order and a hash over its content and
the previous row's hash, within a second. Every minute it signs a checkpoint over the chain's
head (``server.audit.checkpoints``), the way Certificate Transparency logs sign tree heads,
so an auditor who keeps one can hold it against the log later. ``courtlink audit verify``
(``server.audit.verify``) walks the chain and the checkpoints and names the first bad row.
"""

from __future__ import annotations

import json
from typing import Any

from server.context import Context
from server.models.audit import AuditEntry

# The signal the sequencer listens on: a unit of work that wrote a row wakes it after commit.
SIGNAL = "audit"


async def record(
    ctx: Context,
    action: str,
    object_type: str,
    object_id: object,
    **detail: Any,
) -> AuditEntry:
    """Append one row for ``ctx.actor`` in the caller's transaction (it commits or rolls
    back with the change); the sequencer chains it once committed."""
    entry = AuditEntry(
        at=ctx.now(),
        actor=ctx.actor.audit_name,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=json.loads(json.dumps(detail, default=str, ensure_ascii=False)),
        address=ctx.actor.address,
    )
    # Not flushed here: it goes in with the change's next flush (before a query, or at the
    # commit), and the rows of one flush share a multi-row INSERT (a booking writes five).
    ctx.db.add(entry)
    ctx.signal_after_commit(SIGNAL)
    return entry
