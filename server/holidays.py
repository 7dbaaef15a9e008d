"""The statutory public holidays of a year, derived from the rules of
《全国年节及纪念日放假办法》 for a year the State Council's notice has not covered yet.

The State Council announces each year's schedule (with its swapped working weekends, 调休)
late in the year before; until then ``server.workdays`` uses these days as a *provisional*
calendar. The rules (2025 revision, from 2025 on; the 2013 rules before, so the derivation can
be checked against every year the ``chinesecalendar`` package knows):

- 元旦 January 1;
- 春节 除夕 and 正月初一–初三 (2013 rules: 初一–初三);
- 清明 the day of the Qingming solar term;
- 劳动节 May 1–2 (2013 rules: May 1);
- 端午 五月初五; 中秋 八月十五 (lunar dates from ``lunardate``, table-based 1900–2099);
- 国庆 October 1–3.

补假: the law (Article 2) says a holiday falling on a Saturday or Sunday is made up on a
working day. The derivation follows it: such a day, or a day two holidays share (中秋 on
October 1), is made up on the next weekday that is not already off. That gives the
statutory number of weekdays off, which the official notice only moves around (调休); the
swapped working weekends cannot be derived and are not guessed: weekends stay off.

Beyond 2099 there is no lunar table: the lunar and solar-term holidays are left out there
(the court's dates run to 2200, ``server.bounds``), so such a year has fewer days off.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar
from lunardate import LunarDate

REVISION_2025 = 2025  # the first year under the 2025 revision of the rules
# The holiday names ``chinesecalendar`` uses, so a derived day reads like an official one.
NEW_YEAR = "New Year's Day"
SPRING_FESTIVAL = "Spring Festival"
QINGMING = "Tomb-sweeping Day"
LABOUR_DAY = "Labour Day"
DRAGON_BOAT = "Dragon Boat Festival"
MID_AUTUMN = "Mid-autumn Festival"
NATIONAL_DAY = "National Day"


def _lunar(year: int, month: int, day: int) -> date | None:
    try:
        return LunarDate(year, month, day).to_solar_date()
    except ValueError:  # outside the lunar table (1900–2099)
        return None


def _qingming(year: int) -> date | None:
    try:
        terms = chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 30))
    except NotImplementedError:  # outside 1900–2100
        return None
    return next((day for day, name in terms if name == "清明"), None)


def statutory_days(year: int) -> list[tuple[date, str]]:
    """The statutory holiday days of ``year`` by the rules, before any make-up day."""
    new_rules = year >= REVISION_2025
    days: list[tuple[date, str]] = [(date(year, 1, 1), NEW_YEAR)]
    first = _lunar(year, 1, 1)
    if first is not None:
        spring = range(-1 if new_rules else 0, 3)
        days += [(first + timedelta(days=n), SPRING_FESTIVAL) for n in spring]
    qingming = _qingming(year)
    if qingming is not None:
        days.append((qingming, QINGMING))
    days += [(date(year, 5, d), LABOUR_DAY) for d in ((1, 2) if new_rules else (1,))]
    for month, day, name in ((5, 5, DRAGON_BOAT), (8, 15, MID_AUTUMN)):
        found = _lunar(year, month, day)
        if found is not None:
            days.append((found, name))
    days += [(date(year, 10, d), NATIONAL_DAY) for d in (1, 2, 3)]
    return sorted(days)


@lru_cache(maxsize=64)
def provisional_holidays(year: int) -> dict[date, str]:
    """Every day off in ``year`` besides ordinary weekends: the statutory days, and a make-up
    day (补假) for each one on a weekend or shared with another holiday."""
    off: dict[date, str] = {}
    owed: list[str] = []
    for day, name in statutory_days(year):
        if day.weekday() >= 5 or day in off:
            owed.append(name)
        else:
            off[day] = name
        if owed and not _continues(day, year):
            # The block has ended: its make-up days follow it on the next free weekdays.
            cursor = day
            while owed:
                cursor += timedelta(days=1)
                if cursor.weekday() < 5 and cursor not in off:
                    off[cursor] = owed.pop(0)
    return off


def _continues(day: date, year: int) -> bool:
    """Whether another statutory day follows ``day`` within a week (the same holiday
    block, or 中秋 meeting 国庆): make-up days come after the whole block."""
    later = [d for d, _ in statutory_days(year) if d > day]
    return bool(later) and (min(later) - day).days <= 7
