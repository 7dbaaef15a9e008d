"""Input and output models of the docket, shared by the JSON API and the pages.

Inputs forbid unknown fields and validate what the court cares about: a claim is a
non-negative whole number of fen, an ID number is a valid 18-character resident ID (persons,
with its check digit and birth date) or unified social credit code (organisations, with its
check character), or empty. Outputs are what the API returns; ``server.docket.output``
builds them and masks ID numbers for those who may not see them.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from server.bounds import RowId
from server.models.docket import Stage

MAX_CLAIM_FEN = 10**15  # a trillion yuan: far above any civil claim, well inside BIGINT

# --- validators -------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def _resident_id_ok(value: str) -> bool:
    if not re.fullmatch(r"\d{17}[\dX]", value):
        return False
    total = sum(int(c) * w for c, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != value[17]:
        return False
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return True


def _credit_code_ok(value: str) -> bool:
    if len(value) != 18 or any(c not in _USCC_CHARS for c in value):
        return False
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(value[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31] == value[17]


def validate_id_number(kind: str, value: str | None) -> str:
    """Normalize and check an ID number for a party of ``kind``; raises ValueError."""
    value = (value or "").strip().upper()
    if not value:
        return ""
    if kind == "person" and not _resident_id_ok(value):
        raise ValueError("not a valid 18-character resident ID number")
    if kind == "organisation" and not _credit_code_ok(value):
        raise ValueError("not a valid 18-character unified social credit code")
    return value


def _whole_fen(value: Any) -> Any:
    # JSON sends integers; HTML forms send digit strings. Booleans and fractions are refused
    # (pydantic would otherwise read true as 1 and 12.0 as 12).
    if isinstance(value, (bool, float)):
        raise ValueError("the claim must be a whole number of fen")
    if isinstance(value, str):
        if not re.fullmatch(r"\s*\d{1,16}\s*", value):
            raise ValueError("the claim must be a whole number of fen")
        return int(value)
    return value


Fen = Annotated[int, BeforeValidator(_whole_fen), Field(ge=0, le=MAX_CLAIM_FEN)]
Phone = Annotated[str, Field(max_length=32, pattern=r"^[0-9+\-() ]*$")]
Email = Annotated[str, Field(max_length=254, pattern=r"^([^@\s]+@[^@\s]+\.[^@\s]+)?$")]
# Row ids as they come from clients: bounded so an absurd number is a 422, not a database error.
DbId = RowId
Side = Literal["applicant", "respondent"]
Kind = Literal["person", "organisation"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- inputs ----------------------------------------------------------------------------


class PartyIn(_In):
    side: Side
    kind: Kind = "person"
    name: str = Field(min_length=1, max_length=128)
    id_number: str = Field("", max_length=32)
    phone: Phone = ""
    email: Email = ""
    address: str = Field("", max_length=255)
    representative: str = Field("", max_length=128)
    consent: bool | None = Field(
        None, description="the party's answer to 'do you agree to mediate?', if asked"
    )

    @model_validator(mode="after")
    def _check_id(self) -> PartyIn:
        self.id_number = validate_id_number(self.kind, self.id_number)
        return self


class PartyUpdate(_In):
    """Only the fields sent change; the ID number is checked against the resulting kind."""

    side: Side | None = None
    kind: Kind | None = None
    name: str | None = Field(None, min_length=1, max_length=128)
    id_number: str | None = Field(None, max_length=32)
    phone: Phone | None = None
    email: Email | None = None
    address: str | None = Field(None, max_length=255)
    representative: str | None = Field(None, max_length=128)


class CaseCreate(_In):
    cause: str = Field(min_length=1, max_length=128, description="cause of action (案由)")
    facts: str = Field("", max_length=20000)
    claim_fen: Fen = 0
    office: str | None = Field(
        None, max_length=32, description="originating office code; office staff: their own"
    )
    parties: list[PartyIn] = Field(default_factory=list, max_length=20)


class CaseUpdate(_In):
    cause: str | None = Field(None, min_length=1, max_length=128)
    facts: str | None = Field(None, max_length=20000)
    claim_fen: Fen | None = None
    version: int | None = Field(
        None, description="the version you edited; a newer stored version refuses with 409"
    )


class ConsentIn(_In):
    party_id: DbId
    consents: bool
    note: str = Field("", max_length=255)


class AssignIn(_In):
    """Omitted fields stay as they are; ``null`` clears an assignment."""

    mediator_id: DbId | None = None
    judge_id: DbId | None = None
    clerk_id: DbId | None = None


class TransitionIn(_In):
    to: Stage
    note: str = Field("", max_length=1000)


class CaseFilters(BaseModel):
    """Docket search. Unknown query parameters are ignored rather than refused because the
    pages share this model and their URLs carry ``lang`` and the like."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    q: str = Field("", max_length=100, description="number, party name or cause")
    stage: Stage | None = None
    office: str | None = Field(None, max_length=32, description="office code")
    assignee: str | None = Field(
        None, pattern=r"^(me|\d{1,9})$", description="'me' or a user id: judge, mediator or clerk"
    )
    overdue: bool = Field(False, description="fast-track cases past their deadline")
    page: int = Field(1, ge=1, le=100000)
    per_page: int = Field(20, ge=1, le=100)

    @field_validator("stage", "office", "assignee", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        # An HTML <select> sends "" for "any".
        return None if value == "" else value


# --- outputs ---------------------------------------------------------------------------


class UserRef(BaseModel):
    id: int
    display_name: str
    role: str


class PartyOut(BaseModel):
    id: int
    side: str
    kind: str
    name: str
    id_number: str = Field(description="masked unless you are the assigned judge/mediator/clerk")
    id_number_masked: bool
    phone: str
    email: str
    address: str
    representative: str
    consent: bool | None = Field(description="latest recorded answer; null if never asked")


class ConsentOut(BaseModel):
    id: int
    party_id: int
    consents: bool
    note: str
    recorded_at: datetime
    recorded_by_id: int | None


class DocketEntryOut(BaseModel):
    id: int
    at: datetime
    kind: str
    actor: UserRef | None
    from_stage: str | None
    to_stage: str | None
    text: str
    data: dict[str, Any] | None


class CaseNumberOut(BaseModel):
    number: str
    track: str
    year: int
    seq: int
    assigned_at: datetime


class CaseOut(BaseModel):
    id: int
    number: str | None
    tracking_code: str | None
    cause: str
    facts: str
    claim_fen: int
    claim_yuan: str
    stage: str
    stage_label: str = Field(description="English label; pages translate it")
    source: str
    office: str = Field(description="office code")
    office_id: int
    mediator: UserRef | None
    judge: UserRef | None
    clerk: UserRef | None
    created_at: datetime
    updated_at: datetime
    stage_entered_at: datetime
    was_pre_litigation: bool
    was_filed: bool
    fast_track_entered_on: date | None
    fast_track_deadline: date | None
    fast_track_deadline_provisional: bool = Field(
        False,
        description="the deadline was counted over a year the official calendar does not "
        "cover yet; it is recomputed when the year is official",
    )
    overdue: bool
    outcome: str | None
    resolved_at: datetime | None
    version: int
    parties: list[PartyOut]
    consent_complete: bool = Field(description="every party on both sides consents to mediate")
    identity_visible: bool = Field(description="whether ID numbers are shown unmasked to you")
    allowed_moves: list[str] = Field(description="next stages you may move this case to")


class CaseDetailOut(CaseOut):
    numbers: list[CaseNumberOut]
    timeline: list[DocketEntryOut]


class CasePageOut(BaseModel):
    items: list[CaseOut]
    total: int
    page: int
    per_page: int
    pages: int
