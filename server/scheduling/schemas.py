"""Input and output models of scheduling, shared by the JSON API and the pages.

Times may be sent with an offset (stored as given, in UTC) or without one (read in the
court's time zone, ``COURTLINK_TIMEZONE``). A session is given by its end or its length.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from server.bounds import Day, Moment
from server.bounds import RowId as DbId
from server.scheduling.hours import local_to_utc

Minutes = Annotated[int, Field(ge=1, le=24 * 60)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
# One meaning wherever it is sent (a booking, a free slot): the full court-local minute.
LocalMinute = Annotated[
    str,
    Field(
        description='court-local time, "YYYY-MM-DD HH:MM" in the court\'s time zone '
        "(COURTLINK_TIMEZONE); the instant itself is the UTC field beside it",
        examples=["2026-09-21 09:00"],
    ),
]


def local_minute(value: datetime, tz: ZoneInfo) -> str:
    """``value`` as a ``LocalMinute``."""
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")


class _Times(BaseModel):
    model_config = ConfigDict(extra="forbid")
    starts_at: Moment
    ends_at: Moment | None = None
    duration_minutes: Minutes | None = Field(
        default=None, description="length of the session; give this or ends_at"
    )
    host_id: DbId | None = Field(
        default=None, description="the mediator (or judge); omitted: the least booked free one"
    )

    @model_validator(mode="after")
    def _one_end(self) -> _Times:
        if (self.ends_at is None) == (self.duration_minutes is None):
            raise ValueError("give either ends_at or duration_minutes")
        return self

    def span(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) in UTC; a time without an offset is read in the court's zone ``tz``."""
        start = local_to_utc(self.starts_at, tz)
        if self.ends_at is not None:
            return start, local_to_utc(self.ends_at, tz)
        return start, start + timedelta(minutes=self.duration_minutes or 0)


class BookingIn(_Times):
    case_id: DbId
    note: str = Field(default="", max_length=500)


class MoveIn(_Times):
    reason: Reason


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


class AvailabilityQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    office: str = Field(min_length=1, max_length=32, description="office code, e.g. shaping")
    start: Day = Field(description="first day (court's time zone)")
    end: Day | None = Field(default=None, description="last day; default the first")
    duration_minutes: int = Field(default=60, ge=1, le=24 * 60)
    kind: Literal["mediation", "hearing"] = "mediation"
    host_id: DbId | None = Field(default=None, description="only this mediator or judge")


class WaitingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    office: str | None = Field(
        default=None, max_length=32, description="office code; default every office one sees"
    )


class BookingsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    office: str | None = Field(default=None, max_length=32, description="office code")
    start: Day | None = Field(default=None, description="from this day (default today)")
    end: Day | None = Field(default=None, description="to this day (default start + 6)")
    host_id: DbId | None = None
    status: Literal["active", "cancelled", "all"] = "active"


class HoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    blocks: list[list[str]] = Field(
        min_length=1, max_length=6, description='e.g. [["08:30","12:00"],["14:30","17:30"]]'
    )


class FacilityCountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(ge=0, le=50, description="rooms at the center, terminals at an office")


class HostOut(BaseModel):
    id: int
    name: str
    role: str


class SlotOut(BaseModel):
    starts_at: datetime
    ends_at: datetime
    local_start: LocalMinute
    local_end: LocalMinute
    hosts: list[HostOut]


class DayOut(BaseModel):
    date: date
    working: bool
    slots: list[SlotOut]


class AvailabilityOut(BaseModel):
    office: str
    kind: str
    duration_minutes: int
    timezone: str
    days: list[DayOut]


class BookingInviteOut(BaseModel):
    party_id: int
    party_name: str
    url: str | None = Field(
        description="the party's link; null if revoked or unless the caller may hand out links"
    )
    token: str | None = Field(
        description="the link's token alone (what /api/v1/invites/{token}/... takes); null "
        "exactly when url is"
    )
    revoked: bool


class DeliveryOut(BaseModel):
    id: int
    purpose: str
    channel: str
    role: str
    recipient: str
    status: str
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None


class BookingOut(BaseModel):
    id: int
    case_id: int
    case_number: str | None
    cause: str
    office: str
    kind: str
    status: str
    host: HostOut
    room: str
    terminal: str
    starts_at: datetime
    ends_at: datetime
    local_start: LocalMinute
    local_end: LocalMinute
    sequence: int
    uid: str
    session_id: int
    note: str
    cancel_reason: str | None
    invites: list[BookingInviteOut] = []
    deliveries: list[DeliveryOut] = []


class WaitingOut(BaseModel):
    case_id: int
    number: str | None
    cause: str
    stage: str
    office: str
    fast_track_deadline: date | None
    fast_track_deadline_provisional: bool = False
    overdue: bool = Field(default=False, description="a fast-track case past its deadline")
    consent_complete: bool


class FacilityOut(BaseModel):
    id: int
    kind: str
    office: str
    name: str


class HostHoursOut(BaseModel):
    id: int
    name: str
    role: str
    blocks: list[list[str]]


class ResourcesOut(BaseModel):
    hosts: list[HostHoursOut]
    rooms: list[FacilityOut]
    terminals: list[FacilityOut]


class FeedOut(BaseModel):
    url: str
