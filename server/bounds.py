"""The bounds of untrusted input, one definition for every door (web, API, CLI, signaling).

An id beyond the id column (PostgreSQL ``integer``) names nothing and must never reach the
database, where it is an error instead of "not found"; a day outside ``FIRST_DAY..LAST_DAY``
is no court date and, near the ends of Python's calendar, overflows when converted between
time zones. Everything that reads an id or a date from outside goes through these
functions or the pydantic types below, so one place says what "too large" means.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

MAX_ROW_ID = 2_147_483_647  # PostgreSQL int4, the type of every id column
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2200, 12, 31)
_ID_DIGITS = len(str(MAX_ROW_ID))


def row_id(text: str | None) -> int | None:
    """``text`` as an id the database could hold (1..MAX_ROW_ID, ASCII digits only), else
    None. The length is checked before ``int()`` so a 5,000-digit string costs nothing."""
    if not text or len(text) > _ID_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ROW_ID else None


def check_day(value: date) -> date:
    """``value`` if it lies in the court's calendar (pydantic AfterValidator: ValueError)."""
    if isinstance(value, datetime):
        value = value.date()
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"the date must lie between {FIRST_DAY} and {LAST_DAY}")
    return value


def check_moment(value: datetime) -> datetime:
    """``value`` if it, and its UTC reading, lie in the court's calendar: then no time-zone
    conversion the product makes can overflow."""
    check_day(value.date())
    if value.tzinfo is not None:
        check_day(value.astimezone(UTC).date())  # cannot overflow: year is 1900..2200
    return value


def day(text: str | None) -> date | None:
    """``text`` (``YYYY-MM-DD``) as a day in the court's calendar, else None."""
    if not text or len(text) != 10:
        return None
    try:
        return check_day(date.fromisoformat(text))
    except ValueError:
        return None


# The field types of every schema that takes an id or a date from outside.
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
Day = Annotated[date, AfterValidator(check_day)]
Moment = Annotated[datetime, AfterValidator(check_moment)]
