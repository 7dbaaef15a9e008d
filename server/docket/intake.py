"""Online reception (网上接待): a resident submits a dispute without an account.

A submission becomes an ``intake`` case through the docket's own ``create_case`` (numbering,
timeline, audit all happen there), with the applicant's answer to "do you agree to mediate?"
recorded as their consent, and a short tracking code the resident can look up later.

Anonymous submissions are rate-limited per address (``settings.intake_rate_per_hour``; the
address is ``ctx.actor.address``), counted in ``RateEvent`` rows; office staff submitting on a
resident's behalf are logged in and not limited. Failed tracking-code lookups are limited
too, so codes cannot be guessed.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from sqlalchemy import func, select, text

from server.context import Context
from server.docket.cases import create_case, registration_source
from server.docket.numbers import TRACKING_ALPHABET, TRACKING_LENGTH
from server.docket.schemas import CaseCreate, PartyIn, Side, validate_id_number
from server.docket.stages import STAGE_LABELS
from server.errors import Invalid, NotFound, TooManyRequests, fields_invalid
from server.models.accounts import Office, RateEvent
from server.models.docket import Case

SUBMIT_BUCKET = "intake"
LOOKUP_BUCKET = "intake_track"
# Failed lookups an address may make per hour, as a multiple of the submission limit.
LOOKUP_FACTOR = 5
_PG_LOCK_BASE = 0x636C69  # "cli": courtlink intake


def parse_yuan(value: object) -> int:
    """Yuan as typed by a person ("1,234.56", "¥800", "1234") to integer fen, exactly.

    Decimal arithmetic only: no float ever touches money. More than two decimals, a
    negative amount or anything that is not a number is refused with ``ValueError``.
    """
    raw = str(value if value is not None else "").strip()
    raw = raw.replace(",", "").replace("，", "").replace(" ", "").lstrip("¥￥")
    if raw.endswith("元"):
        raw = raw[:-1]
    if raw == "":
        return 0
    if raw.startswith("-"):
        raise ValueError("the claim cannot be negative")
    if not re.fullmatch(r"\d+(\.\d*)?|\.\d+", raw):
        raise ValueError("enter the claim in yuan as a number, e.g. 1234.56")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise ValueError("enter the claim in yuan as a number, e.g. 1234.56") from None
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise ValueError("the claim may have at most two decimals (fen)")
    if fen > 10**15:
        raise ValueError("the claim is too large")
    return int(fen)


YuanText = Annotated[int, BeforeValidator(parse_yuan)]


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]


class IntakeParty(BaseModel):
    """One side of the dispute as the resident describes it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=128)
    phone: OptionalText = Field(default=None, max_length=32, pattern=r"^[0-9+\- ]{5,32}$")
    id_number: OptionalText = Field(default=None, max_length=32)
    address: OptionalText = Field(default=None, max_length=255)

    @field_validator("id_number")
    @classmethod
    def _check_id(cls, value: str | None) -> str | None:
        # The docket's own check (resident ID with its check digit); residents file as persons.
        return validate_id_number("person", value) or None


class IntakeIn(BaseModel):
    """A dispute submitted online. ``claim_yuan`` is text ("1,234.56"), never a float."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    applicant: IntakeParty
    respondent: IntakeParty
    cause: str = Field(min_length=1, max_length=128, description="kind of dispute (案由)")
    facts: str = Field(min_length=1, max_length=5000)
    claim_yuan: YuanText = Field(default=0, description='yuan as text, e.g. "1234.56"')
    consent_to_mediate: bool = Field(description="the applicant agrees to mediate")
    office: str = Field(min_length=1, max_length=32, description="street office code")

    @field_validator("applicant")
    @classmethod
    def _applicant_reachable(cls, value: IntakeParty) -> IntakeParty:
        if not value.phone:
            raise ValueError("the applicant's phone number is needed to reach them")
        return value


class IntakeReceipt(BaseModel):
    tracking_code: str
    stage: str
    office: str
    submitted_at: datetime


class IntakeStatus(BaseModel):
    """What anyone holding the code may see: no party details at all."""

    tracking_code: str
    stage: str
    stage_label: str
    number: str | None
    cause: str
    office: str
    office_name: str
    submitted_at: datetime
    updated_at: datetime
    fast_track_deadline: date | None
    fast_track_deadline_provisional: bool = False


def status_of(case: Case, lang: str, gettext: Callable[[str], str]) -> IntakeStatus:
    assert case.tracking_code is not None
    return IntakeStatus(
        tracking_code=case.tracking_code,
        stage=case.stage,
        stage_label=gettext(STAGE_LABELS.get(case.stage, case.stage)),
        number=case.number,
        cause=case.cause,
        office=case.office.code,
        office_name=case.office.name(lang),
        submitted_at=case.created_at,
        updated_at=case.updated_at,
        fast_track_deadline=case.fast_track_deadline if case.stage == "fast_track" else None,
        fast_track_deadline_provisional=case.stage == "fast_track"
        and case.fast_track_deadline_provisional,
    )


def format_code(code: str) -> str:
    """ABCD-EFGH: easier to read out and copy."""
    return f"{code[:4]}-{code[4:]}" if len(code) == TRACKING_LENGTH else code


def normalize_code(raw: str) -> str | None:
    code = re.sub(r"[\s\-]", "", raw or "").upper()
    if len(code) != TRACKING_LENGTH or any(c not in TRACKING_ALPHABET for c in code):
        return None
    return code


async def street_offices(ctx: Context) -> list[Office]:
    rows = await ctx.db.scalars(
        select(Office).where(Office.is_center.is_(False)).order_by(Office.id)
    )
    return list(rows)


def _address(ctx: Context) -> str:
    return ctx.actor.address or "unknown"


async def _lock_address(ctx: Context, bucket: str, address: str) -> None:
    # PostgreSQL: serialize one address's requests so a burst cannot slip past the count.
    # SQLite transactions are already serialized by BEGIN IMMEDIATE.
    if ctx.db.get_bind().dialect.name == "postgresql":
        key = _PG_LOCK_BASE * 2**32 + zlib.crc32(f"{bucket}:{address}".encode())
        await ctx.db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


async def _count_recent(ctx: Context, bucket: str, address: str) -> int:
    since = ctx.now() - timedelta(hours=1)
    count = await ctx.db.scalar(
        select(func.coalesce(func.sum(RateEvent.weight), 0)).where(
            RateEvent.bucket == bucket, RateEvent.address == address, RateEvent.at >= since
        )
    )
    return int(count or 0)


_TOO_MANY = {
    SUBMIT_BUCKET: "too many submissions from this address; please try again in an hour",
    LOOKUP_BUCKET: "too many failed lookups from this address; please try again in an hour",
}


async def check_rate(ctx: Context, bucket: str, limit: int) -> None:
    """Refuse with 429 once the caller's address has used ``limit`` events in the last hour."""
    address = _address(ctx)
    await _lock_address(ctx, bucket, address)
    if await _count_recent(ctx, bucket, address) >= limit:
        raise TooManyRequests(_TOO_MANY[bucket], code="rate_limited")


def _count_event(ctx: Context, bucket: str) -> None:
    ctx.db.add(RateEvent(bucket=bucket, address=_address(ctx), at=ctx.now()))


async def submit(ctx: Context, data: IntakeIn) -> Case:
    """Turn a submission into an ``intake`` case; raises Invalid / TooManyRequests. Without
    a logged-in user the submission counts against the address's hourly limit."""
    user = ctx.user
    if user is None:
        await check_rate(ctx, SUBMIT_BUCKET, ctx.settings.intake_rate_per_hour)
    office = await ctx.db.scalar(
        select(Office).where(Office.code == data.office, Office.is_center.is_(False))
    )
    if office is None:
        raise fields_invalid([("office", Invalid("unknown street office"))])
    create = CaseCreate(
        cause=data.cause,
        facts=data.facts,
        claim_fen=data.claim_yuan,
        office=None,  # resolved above, passed as office_id
        parties=[
            # The applicant's answer to "do you agree to mediate?" is their recorded consent.
            party_in("applicant", data.applicant, consent=data.consent_to_mediate),
            party_in("respondent", data.respondent, consent=None),
        ],
    )
    case = await create_case(
        ctx,
        create,
        office_id=office.id,
        source=registration_source(user, online=True),
    )
    if user is None:
        _count_event(ctx, SUBMIT_BUCKET)
    return case


def party_in(side: Side, party: IntakeParty, *, consent: bool | None) -> PartyIn:
    return PartyIn(
        side=side,
        kind="person",
        name=party.name,
        id_number=party.id_number or "",
        phone=party.phone or "",
        address=party.address or "",
        email="",
        representative="",
        consent=consent,
    )


async def lookup(ctx: Context, raw_code: str) -> Case:
    """The case behind a tracking code; a miss counts against the address's lookup budget.

    The miss is committed on its own (the unit of work then ends in 404 and rolls back), as
    failed logins are, or guessing would cost nothing.
    """
    limit = ctx.settings.intake_rate_per_hour * LOOKUP_FACTOR
    await check_rate(ctx, LOOKUP_BUCKET, limit)
    code = normalize_code(raw_code)
    case = None
    if code is not None:
        case = await ctx.db.scalar(select(Case).where(Case.tracking_code == code))
    if case is None:
        _count_event(ctx, LOOKUP_BUCKET)
        await ctx.db.commit()
        raise NotFound("no dispute has this tracking code", code="tracking_code_not_found")
    return case
