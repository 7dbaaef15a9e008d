"""Retention: how long a case's recordings are kept, legal holds, and the purge.

The period depends on how the case ended (``COURTLINK_RECORDING_RETENTION_DAYS``, a JSON map
to days, counted from the case's resolution), keyed by retention class: ``mediated``,
``adjudicated``, ``withdrawn``. ``RETENTION_CLASS`` maps every outcome the docket gives
(``server.docket.stages``: a mediated case ends as ``mediated_pre_litigation``,
``mediated_pretrial`` or ``mediated_fast_track``) to its class, in this one place; a key
naming an outcome itself overrides its class's period. A case with no period (still open, or
a class nobody configured) is kept. A legal hold on a recording blocks
its deletion whatever the period says. The purge deletes the files, keeps the rows (marked
``purged``) and the manifest, and audits every recording it removes (as ``ctx.actor``:
``cli:purge`` from the command line). "Now" is the unit of work's clock.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from recordings import paths
from server.audit import record
from server.context import Context
from server.docket.stages import (
    MEDIATED_OUTCOMES,
    OUTCOME_ADJUDICATED,
    OUTCOME_WITHDRAWN,
)
from server.models.docket import Case
from server.models.recordings import Recording, SegmentStatus
from server.settings import Settings


@dataclass
class Candidate:
    recording: Recording
    case: Case
    outcome: str
    expires_at: datetime
    files: list[str]
    bytes: int
    held: bool


# Every outcome a case can end with, to the class its retention period is configured by.
RETENTION_CLASS: dict[str, str] = {
    **{outcome: "mediated" for outcome in MEDIATED_OUTCOMES},
    OUTCOME_ADJUDICATED: "adjudicated",
    OUTCOME_WITHDRAWN: "withdrawn",
}


def outcome_of(case: Case) -> str:
    return case.outcome or case.stage


def retention_days(settings: Settings, outcome: str) -> int | None:
    """How long recordings of a case that ended with ``outcome`` are kept (None: for ever)."""
    periods = settings.recording_retention_days
    if outcome in periods:
        return periods[outcome]
    return periods.get(RETENTION_CLASS.get(outcome, outcome))


async def candidates(ctx: Context) -> list[Candidate]:
    """Recordings whose retention period has run out (held ones included, flagged)."""
    now, settings = ctx.now(), ctx.settings
    rows = (
        await ctx.db.execute(
            select(Recording, Case)
            .join(Case, Case.id == Recording.case_id)
            .where(Recording.purged_at.is_(None))
            .order_by(Recording.id)
        )
    ).all()
    out: list[Candidate] = []
    for rec, case in rows:
        outcome = outcome_of(case)
        days = retention_days(settings, outcome)
        if days is None or case.resolved_at is None:
            continue
        expires = case.resolved_at + timedelta(days=days)
        if expires > now:
            continue
        files = [s.path for s in rec.segments if s.status != SegmentStatus.PURGED]
        if rec.composite_path:
            files.append(rec.composite_path)
        size = sum(s.size or 0 for s in rec.segments if s.status != SegmentStatus.PURGED)
        size += rec.composite_size or 0
        out.append(Candidate(rec, case, outcome, expires, files, size, rec.legal_hold))
    return out


def _delete(settings: Settings, relpaths: list[str]) -> None:
    for rel in relpaths:
        paths.inside(settings, rel).unlink(missing_ok=True)


async def purge(ctx: Context) -> list[Candidate]:
    """Delete expired, unheld recordings' files; returns what was purged."""
    done = []
    for cand in await candidates(ctx):
        if cand.held:
            continue
        rec = cand.recording
        await asyncio.to_thread(_delete, ctx.settings, cand.files)
        for seg in rec.segments:
            seg.status = SegmentStatus.PURGED
        rec.composite_path = None
        rec.purged_at = ctx.now()
        await record(
            ctx,
            "recording.purged",
            "recording",
            rec.id,
            session_id=rec.session_id,
            case_id=cand.case.id,
            outcome=cand.outcome,
            files=cand.files,
            bytes=cand.bytes,
        )
        done.append(cand)
    return done
