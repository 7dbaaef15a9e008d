"""The clerks' view: agreements filtered by office, date range, case stage and signed or not,
and what goes into the zip of the filtered sealed documents (the web layer streams it,
``server.web.zipstream``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import visible_cases_clause
from server.bounds import Day
from server.context import Context
from server.docket.documents import zip_safe
from server.models.accounts import Office, User
from server.models.agreements import Agreement, SealedDocument
from server.models.docket import Case


class AgreementFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    office: str | None = Field(default=None, description="office code")
    date_from: Day | None = Field(default=None, description="created or sealed on or after")
    date_to: Day | None = Field(default=None, description="created or sealed on or before")
    stage: str | None = Field(default=None, description="the case's stage")
    signed: bool | None = Field(default=None, description="sealed (true) or still a draft")


def _day_start(d: date, tz: object) -> datetime:
    return datetime.combine(d, time(0), tzinfo=tz).astimezone(UTC)  # type: ignore[arg-type]


def query(user: User, f: AgreementFilter, tz: object) -> Select[Any]:
    stmt = (
        select(Agreement)
        .join(Case, Agreement.case_id == Case.id)
        .where(visible_cases_clause(user))
        .order_by(Agreement.id)
    )
    when = func.coalesce(Agreement.sealed_at, Agreement.created_at)
    if f.office:
        stmt = stmt.join(Office, Case.office_id == Office.id).where(Office.code == f.office)
    if f.date_from:
        stmt = stmt.where(when >= _day_start(f.date_from, tz))
    if f.date_to:
        stmt = stmt.where(when < _day_start(f.date_to + timedelta(days=1), tz))
    if f.stage:
        stmt = stmt.where(Case.stage == f.stage)
    if f.signed is True:
        stmt = stmt.where(Agreement.status != "draft")
    elif f.signed is False:
        stmt = stmt.where(Agreement.status == "draft")
    return stmt


async def listing(ctx: Context, f: AgreementFilter) -> list[Agreement]:
    """The agreements of the cases the acting user may see, filtered (days court-local)."""
    stmt = query(ctx.require_user(), f, ctx.settings.tz)
    rows: list[Agreement] = list((await ctx.db.scalars(stmt)).unique().all())
    return rows


async def documents_for(db: AsyncSession, agreement_ids: list[int]) -> list[SealedDocument]:
    if not agreement_ids:
        return []
    rows = await db.scalars(
        select(SealedDocument)
        .where(SealedDocument.agreement_id.in_(agreement_ids))
        .order_by(SealedDocument.agreement_id, SealedDocument.id)
    )
    return list(rows)


def zip_name(doc: SealedDocument) -> str:
    number = zip_safe(doc.case_number) or f"agreement{doc.id}"
    label = "调解协议书" if doc.kind == "agreement" else "民事裁定书"
    return f"{number}-{label}-{doc.code}.pdf"
