"""Case numbers in the court's style: ``（2026）晋0303民诉前调17号``, the year in full-width
brackets as the Supreme People's Court's rules on case numbers write it.

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

import secrets

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from server.context import Context
from server.models.docket import Case, CaseNumber, CaseNumberCounter, Stage

# A case's tracking code (登记号): what a resident looks their dispute up by, and the local
# part of the case's mail address (server.docket.mailbox). 32 symbols: no 0/O and no 1/I, so
# a code read out over the phone cannot be misheard.
TRACKING_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
TRACKING_LENGTH = 8


def new_code() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))


async def unique_code(ctx: Context) -> str:
    """A tracking code no case has yet (40 bits: asked once, in practice)."""
    for _ in range(10):
        code = new_code()
        if await ctx.db.scalar(select(Case.id).where(Case.tracking_code == code)) is None:
            return code
    raise RuntimeError("could not find a free tracking code")  # 32**8 codes: never in practice


# The track (字号) a stage's number is drawn from.
TRACKS: dict[Stage, str] = {
    Stage.PRE_LITIGATION_MEDIATION: "民诉前调",
    Stage.FILED: "民初",
    Stage.JUDICIAL_CONFIRMATION: "民特",
}


def format_number(year: int, court_code: str, track: str, seq: int) -> str:
    """``（2026）晋0303民初5号``."""
    return f"（{year}）{court_code}{track}{seq}号"


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
