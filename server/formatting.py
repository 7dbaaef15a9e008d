"""Display helpers shared by templates and CSV exports: money, dates, masking, stage names."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import jinja2


def yuan(fen: int | None) -> str:
    """Integer fen to a yuan string with two decimals and thousands separators."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def mask_id_number(value: str | None) -> str:
    """Keep the first 3 and last 4 characters of an ID number: 140***********1234."""
    if not value:
        return ""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """Public views show only the family name: 张** ."""
    if not value:
        return ""
    return value[0] + "*" * max(1, len(value) - 1)


def mask_phone(value: str | None) -> str:
    if not value:
        return ""
    return value[:3] + "****" + value[-4:] if len(value) >= 8 else "****"


def local_time(
    value: datetime | str | None, tz: str = "Asia/Shanghai", fmt: str = "%Y-%m-%d %H:%M"
) -> str:
    if value is None:
        return ""
    if isinstance(value, str):  # an API shape's ISO time (``model_dump(mode="json")``)
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo(tz)).strftime(fmt)


# The zones that keep Beijing time. A resident knows the time by that name, not by the time
# zone database's "Asia/Shanghai" (and an SMS is shorter for it); a court elsewhere is named
# by its zone.
BEIJING_TIME = frozenset(
    {"Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin", "PRC"}
)


def zone_name(timezone: str) -> str:
    """The court's zone as people name it: "Beijing time" (a msgid: 北京时间), else the
    zone's own name."""
    return "Beijing time" if timezone in BEIJING_TIME else timezone


def install_filters(env: jinja2.Environment) -> None:
    env.filters["yuan"] = yuan
    env.filters["mask_id"] = mask_id_number
    env.filters["mask_name"] = mask_name
    env.filters["mask_phone"] = mask_phone
    env.filters["local_time"] = local_time
    env.filters["zone_name"] = zone_name
