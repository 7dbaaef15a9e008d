"""Case numbers in the court's style: ``(2026)晋0303民诉前调17号``.

One sequence per (year, track). A case gets a number when it enters a numbered stage and keeps
every number it has carried in ``case_numbers``; ``Case.number`` is the current one.

The sequence is taken with one atomic statement, ``INSERT ... VALUES (1) ON CONFLICT DO
UPDATE SET last = last + 1 RETURNING last``, which also creates the counter row for a new
year. On PostgreSQL the row lock the update takes makes concurrent transactions wait and then
re-read the incremented value, so two cases never get one number and no number is
skipped while transactions commit; a transaction that rolls back after taking a number rolls
the counter back with it. On SQLite every write transaction is serialized (BEGIN IMMEDIATE).
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from server.context import Context
from server.models.docket import Case, CaseNumber, CaseNumberCounter, Stage

# The track (字号) a stage's number is drawn from.
TRACKS: dict[Stage, str] = {
    Stage.PRE_LITIGATION_MEDIATION: "民诉前调",
    Stage.FILED: "民初",
    Stage.JUDICIAL_CONFIRMATION: "民特",
}


def format_number(year: int, court_code: str, track: str, seq: int) -> str:
    """``(2026)晋0303民初5号``."""
    return f"({year}){court_code}{track}{seq}号"


async def next_seq(ctx: Context, year: int, track: str) -> int:
    """Take the next number of ``track`` in ``year`` inside the caller's transaction."""
    db = ctx.db
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        ins: postgresql.Insert | sqlite.Insert = postgresql.insert(CaseNumberCounter)
    else:
        ins = sqlite.insert(CaseNumberCounter)
    seq = await db.scalar(
        ins.values(year=year, track=track, last=1)
        .on_conflict_do_update(
            index_elements=["year", "track"], set_={"last": CaseNumberCounter.last + 1}
        )
        .returning(CaseNumberCounter.last)
    )
    assert seq is not None  # RETURNING answers for the inserted or the updated row
    return int(seq)


async def assign_number(ctx: Context, case: Case, stage: Stage) -> CaseNumber:
    """Give ``case`` the next number of ``stage``'s track for the court-local year of
    ``ctx.today()``, in the court's code (``settings.court_code``), and make it the case's
    current number."""
    track = TRACKS[stage]
    year = ctx.today().year
    seq = await next_seq(ctx, year, track)
    row = CaseNumber(
        case_id=case.id,
        number=format_number(year, ctx.settings.court_code, track, seq),
        track=track,
        year=year,
        seq=seq,
        assigned_at=ctx.now(),
    )
    ctx.db.add(row)
    case.number = row.number
    return row
