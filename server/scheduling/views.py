"""What the scheduling pages show, computed apart from the handlers: weeks, the availability
grid's rows and cells, bookings grouped by day and by office."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from server import bounds
from server.models.scheduling import Booking
from server.scheduling.availability import Day, Slot


def parse_day(value: str | None, default: date) -> date:
    """A page's ``date`` parameter; a missing or bad one (or one outside the court's
    calendar, ``server.bounds``) shows ``default`` rather than an error."""
    return bounds.day(value) or default


def week_of(day: date) -> list[date]:
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=n) for n in range(7)]


@dataclass
class Grid:
    days: list[Day]
    times: list[str]  # row labels, local HH:MM
    cells: dict[tuple[date, str], Slot]

    def cell(self, day: date, time: str) -> Slot | None:
        return self.cells.get((day, time))


def grid(days: list[Day], tz: ZoneInfo) -> Grid:
    cells: dict[tuple[date, str], Slot] = {}
    times: set[str] = set()
    for day in days:
        for slot in day.slots:
            label = slot.starts_at.astimezone(tz).strftime("%H:%M")
            cells[(day.day, label)] = slot
            times.add(label)
    return Grid(days, sorted(times), cells)


def by_day(bookings: list[Booking], tz: ZoneInfo) -> dict[date, list[Booking]]:
    out: dict[date, list[Booking]] = defaultdict(list)
    for booking in bookings:
        out[booking.starts_at.astimezone(tz).date()].append(booking)
    return dict(out)


def by_office_and_day(
    bookings: list[Booking], tz: ZoneInfo
) -> dict[int, dict[date, list[Booking]]]:
    out: dict[int, dict[date, list[Booking]]] = defaultdict(lambda: defaultdict(list))
    for booking in bookings:
        out[booking.office_id][booking.starts_at.astimezone(tz).date()].append(booking)
    return {k: dict(v) for k, v in out.items()}


def local_input(value: datetime, tz: ZoneInfo) -> str:
    """A value for <input type=datetime-local>."""
    return value.astimezone(tz).strftime("%Y-%m-%dT%H:%M")
