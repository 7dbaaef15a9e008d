"""Working days on the official Chinese calendar, swapped working weekends (调休) included,
and a provisional calendar for a year no official schedule covers yet.

Each year has one source, in this order:

1. ``admin``: ``<calendar_dir>/<year>.json``, ``{"holidays": ["2027-01-01", ...],
   "workdays": [...]}``, authoritative for its year (a year the package does not know yet,
   or a local change): listed holidays are off, listed workdays are on, every other day
   follows Monday–Friday;
2. ``official``: the State Council's published schedule in the ``chinesecalendar`` package;
3. ``provisional``: derived from the statutory rules (``server.holidays``), weekends off and
   no swapped working weekends. The State Council announces a year only late in the year
   before, and a court cannot stop work waiting for a package release.

Everything computed from a provisional year is marked so (``span_provisional``,
``deadline``): a stored deadline carries the mark, and ``server.docket.deadlines``
recomputes it once the year becomes official or an admin adds its file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import chinese_calendar
from chinese_calendar.constants import holidays as _official_holidays

from server.holidays import provisional_holidays

Source = Literal["admin", "official", "provisional"]
# The years the installed package has the State Council's schedule for.
OFFICIAL_YEARS = range(min(_official_holidays).year, max(_official_holidays).year + 1)


@dataclass(frozen=True, slots=True)
class Deadline:
    """A day counted in working days, and whether any day counted was provisional."""

    day: date
    provisional: bool


class WorkCalendar:
    # How often a year's file is looked for again: a deadline counts a dozen days, and a
    # report thousands, so the disk is asked at most once a second per year, not per day.
    RECHECK_S = 1.0

    def __init__(
        self, override_dir: Path | None = None, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._override_dir = override_dir
        self._overrides: dict[int, tuple[frozenset[date], frozenset[date]] | None] = {}
        self._checked: dict[int, float] = {}
        self._monotonic = monotonic  # a test moves it instead of waiting

    def _override(self, year: int) -> tuple[frozenset[date], frozenset[date]] | None:
        now = self._monotonic()
        if year in self._overrides and now - self._checked[year] < self.RECHECK_S:
            return self._overrides[year]
        self._checked[year] = now
        path = None if self._override_dir is None else self._override_dir / f"{year}.json"
        # A year file the admin adds (or removes) counts within a second in a running
        # server; a file changed in place is read again by ``reload``.
        present = path is not None and path.exists()
        if year not in self._overrides or (self._overrides[year] is not None) != present:
            found = None
            if path is not None and present:
                data = json.loads(path.read_text(encoding="utf-8"))
                found = (
                    frozenset(date.fromisoformat(d) for d in data.get("holidays", [])),
                    frozenset(date.fromisoformat(d) for d in data.get("workdays", [])),
                )
            self._overrides[year] = found
        return self._overrides[year]

    def reload(self) -> None:
        """Read the admin's year files again (one changed in place since)."""
        self._overrides.clear()
        self._checked.clear()

    @property
    def override_dir(self) -> Path | None:
        return self._override_dir

    def source(self, year: int) -> Source:
        if self._override(year) is not None:
            return "admin"
        return "official" if year in OFFICIAL_YEARS else "provisional"

    def is_provisional_year(self, year: int) -> bool:
        return self.source(year) == "provisional"

    def is_provisional(self, day: date) -> bool:
        return self.is_provisional_year(day.year)

    def provisional_years(self, years: Iterable[int]) -> list[int]:
        """Those of ``years`` computed provisionally, in order."""
        return sorted(y for y in set(years) if self.is_provisional_year(y))

    def is_workday(self, day: date) -> bool:
        override = self._override(day.year)
        if override is not None:
            holidays, workdays = override
            if day in holidays:
                return False
            if day in workdays:
                return True
            return day.weekday() < 5
        if day.year in OFFICIAL_YEARS:
            return bool(chinese_calendar.is_workday(day))
        return day.weekday() < 5 and day not in provisional_holidays(day.year)

    def add_workdays(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``start`` itself not counted)."""
        day = start
        remaining = count
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_workday(day):
                remaining -= 1
        return day

    def span_provisional(self, start: date, end: date) -> bool:
        """Whether any day after ``start`` up to and including ``end`` lies in a provisional
        year: a count over those days may change when the year's official schedule comes."""
        if end <= start:
            return False
        first = (start + timedelta(days=1)).year
        return any(self.is_provisional_year(y) for y in range(first, end.year + 1))

    def deadline(self, start: date, count: int) -> Deadline:
        """``add_workdays`` with the mark saying whether it rests on a provisional year."""
        day = self.add_workdays(start, count)
        return Deadline(day, self.span_provisional(start, day))

    def next_workday(self, start: date) -> date:
        return self.add_workdays(start, 1)

    def workdays_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 if end <= start)."""
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return count
