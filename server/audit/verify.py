"""Checking the audit log: the chain row by row, then every checkpoint against it.

A row is bad when its position skips one (a row deleted), when it does not link to the row
before it (rows reordered, or one edited and rehashed), or when its content does not match
its hash (edited). A checkpoint is bad when its signature is not the court's, or when the
row at its size no longer has the hash it signed: the rows up to it were rewritten (for
instance a row inserted and every later hash recomputed), or cut off the end. Checkpoints
an auditor kept (``courtlink audit verify --checkpoint FILE``) are checked the same way as
the stored ones, so deleting stored checkpoints hides nothing from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.chain import GENESIS, digest, pending_count
from server.audit.checkpoints import Checkpoint, signing_key
from server.models.audit import AuditCheckpoint, AuditEntry
from server.settings import Settings


@dataclass
class ChainReport:
    rows: int  # rows chained and checked
    first_bad_row: int | None  # the chain position (seq) of the first bad row
    reason: str
    pending: int = 0  # committed rows the sequencer has not chained yet
    checkpoints: int = 0  # checkpoints checked
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_bad_row is None and not self.problems


async def verify_chain(
    db: AsyncSession, settings: Settings, kept: list[Checkpoint] | None = None
) -> ChainReport:
    stored = [Checkpoint.from_row(r) for r in await db.scalars(select(AuditCheckpoint))]
    points = sorted(stored + list(kept or []), key=lambda p: p.size)
    wanted = {p.size for p in points}
    hashes: dict[int, str] = {}
    prev, expected, count = GENESIS, 1, 0
    report: ChainReport | None = None
    rows = await db.stream_scalars(
        select(AuditEntry).where(AuditEntry.seq.is_not(None)).order_by(AuditEntry.seq)
    )
    async for entry in rows:
        count += 1
        if entry.seq != expected:
            report = ChainReport(count, expected, f"row {expected} is missing")
            break
        if entry.prev_hash != prev:
            report = ChainReport(count, expected, "does not link to the row before it")
            break
        if digest(entry, prev) != entry.hash:
            report = ChainReport(count, expected, "content does not match its hash")
            break
        prev = entry.hash
        if expected in wanted:
            hashes[expected] = prev
        expected += 1
    await rows.close()
    pending = await pending_count(db)
    if report is not None:
        report.pending = pending
        return report
    return _check_points(ChainReport(count, None, "ok", pending), points, hashes, settings)


def _check_points(
    report: ChainReport, points: list[Checkpoint], hashes: dict[int, str], settings: Settings
) -> ChainReport:
    public = signing_key(settings).public_key()
    good_upto = 0
    for point in points:
        report.checkpoints += 1
        if not point.signed_by(public):
            report.problems.append(f"checkpoint at row {point.size} is not signed by this court")
            continue
        if point.size > report.rows:
            report.first_bad_row = report.rows + 1
            report.reason = (
                f"row {report.rows + 1} is missing: a checkpoint signed {point.at:%Y-%m-%d %H:%M}"
                f" covers {point.size} rows"
            )
            return report
        if hashes.get(point.size) != point.head_hash:
            report.first_bad_row = good_upto + 1
            report.reason = (
                f"rows {good_upto + 1} to {point.size} were rewritten: row {point.size} does not"
                f" have the hash the checkpoint signed {point.at:%Y-%m-%d %H:%M} holds"
            )
            return report
        good_upto = point.size
    if report.problems:
        report.reason = "; ".join(report.problems)
    return report
