"""Working days on the official Chinese calendar, swapped working weekends (调休) included.

The ``chinesecalendar`` package carries the State Council's published schedule. An admin may
override a year (a year the package does not know yet, or a local change) with
``<calendar_dir>/<year>.json``: ``{"holidays": ["2027-01-01", ...], "workdays": [...]}``.
An override is authoritative for its year: listed holidays are off, listed workdays are on,
and every other day follows Monday–Friday.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar

from server.errors import Invalid


class WorkCalendar:
    def __init__(self, override_dir: Path | None = None) -> None:
        self._override_dir = override_dir
        self._overrides: dict[int, tuple[frozenset[date], frozenset[date]] | None] = {}

    def _override(self, year: int) -> tuple[frozenset[date], frozenset[date]] | None:
        if year not in self._overrides:
            found = None
            if self._override_dir is not None:
                path = self._override_dir / f"{year}.json"
                if path.exists():
                    data = json.loads(path.read_text(encoding="utf-8"))
                    found = (
                        frozenset(date.fromisoformat(d) for d in data.get("holidays", [])),
                        frozenset(date.fromisoformat(d) for d in data.get("workdays", [])),
                    )
            self._overrides[year] = found
        return self._overrides[year]

    def reload(self) -> None:
        self._overrides.clear()

    def is_workday(self, day: date) -> bool:
        override = self._override(day.year)
        if override is not None:
            holidays, workdays = override
            if day in holidays:
                return False
            if day in workdays:
                return True
            return day.weekday() < 5
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            raise Invalid(
                f"the official calendar for {day.year} is not known; an admin must add "
                f"calendar/{day.year}.json",
                code="calendar_unknown",
            ) from None

    def add_workdays(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``start`` itself not counted)."""
        day = start
        remaining = count
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_workday(day):
                remaining -= 1
        return day

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
