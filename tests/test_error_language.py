"""A refusal reads in the reader's language: the error page and the JSON error shape's
``message`` are Chinese unless English was asked for (``?lang=en``, then the cookie), and
``code`` stays the same for programs. Every refusal the product writes as a literal has its
Chinese wording: a resident once read "this invitation link is not valid" on a Chinese
page, and the signing page showed the server's English."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from string import Formatter
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, Field

from server.errors import _PYDANTIC, Conflict, Invalid, Term, parse_model
from server.i18n import Catalogs
from server.scheduling.conflicts import TAKEN
from server.scheduling.hours import check_working_time
from server.web.params import _NO_SUCH
from server.workdays import WorkCalendar
from tests.source_scan import formatted_args, literal_args
from tests.test_booking_support import SHANGHAI, local, start_world

# The domain's error classes (server/errors.py), each taking its message first.
ERRORS = {
    name: 0
    for name in (
        "AppError",
        "BadRequest",
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "Conflict",
        "PayloadTooLarge",
        "UnsupportedMedia",
        "Invalid",
        "TooManyRequests",
    )
}


def test_the_scan_finds_the_refusals():
    found = literal_args(ERRORS)
    assert {"this invitation link is not valid", "type your name"} <= set(found)
    assert len(found) > 100


def test_every_refusal_has_its_chinese_wording():
    zh = Catalogs().gettext("zh_CN")
    missing = {msg: where for msg, where in literal_args(ERRORS).items() if zh(msg) == msg}
    assert missing == {}, f"add to web/translations/zh_CN/LC_MESSAGES/errors.po: {missing}"


NO_SUCH_CODE = "no sealed document has this verification code"


async def test_the_json_error_speaks_the_readers_language(client):
    resp = await client.get("/api/v1/verify/NOSUCHCODE")
    body = await resp.json()
    assert resp.status == 404 and body["error"]["code"] == "unknown_code"
    assert body["error"]["message"] == "没有与此验证码对应的签章文书"
    resp = await client.get("/api/v1/verify/NOSUCHCODE?lang=en")
    assert (await resp.json())["error"]["message"] == NO_SUCH_CODE
    # A page's own requests carry the language the reader chose on a page (its cookie).
    assert (await client.get("/login?lang=en")).status == 200
    resp = await client.get("/api/v1/verify/NOSUCHCODE")
    assert (await resp.json())["error"]["message"] == NO_SUCH_CODE


async def test_a_dead_link_and_a_missing_page_say_so_in_chinese(client):
    page = await (await client.get("/join/not-a-link")).text()
    assert "此邀请链接无效" in page and "not valid" not in page
    page = await (await client.get("/no/such/page")).text()
    assert "页面不存在" in page and "Not Found" not in page


def test_no_refusal_is_put_together_where_it_is_raised():
    """A message with values is a template and its ``values``: one put together beforehand
    (an f-string, a sum) has no catalogue entry and reached Chinese pages in English."""
    assert formatted_args(ERRORS) == []


def _fields(text: str) -> set[str]:
    return {f"{name}!{conv}" for _, name, _, conv in Formatter().parse(text) if name is not None}


def test_every_translation_keeps_the_fields_it_fills_in():
    zh = Catalogs().gettext("zh_CN")
    templates = [t for t in (*literal_args(ERRORS), *TAKEN.values()) if "{" in t]
    assert len(templates) > 50
    lost = {t: zh(t) for t in templates if not _fields(zh(t)) <= _fields(t)}
    assert lost == {}
    # The court's zone reads as Beijing time in Chinese, and may go unsaid there.
    assert "{zone}" not in zh("the session must lie within {who}'s working hours ({hours}, {zone})")


def test_the_messages_kept_in_tables_have_their_chinese_wording():
    zh = Catalogs().gettext("zh_CN")
    tables = [*TAKEN.values(), *_NO_SUCH.values(), "no such record"]
    assert [m for m in tables if zh(m) == m] == []


def test_a_refusal_with_values_is_worded_in_each_language():
    zh = Catalogs().gettext("zh_CN")
    booked = {"host": "李调解", "start": "2026-12-07 09:00", "end": "10:00", "booking": 7}
    booked |= {"case": "（2026）京1号", "office": "沙坪"}
    example = Conflict(TAKEN["mediator"], values=booked)
    refusal = Conflict("no mediator is free then; e.g. {example}", values={"example": example})
    assert refusal.message.startswith("no mediator is free then; e.g. mediator 李调解 is already")
    assert refusal.worded(zh) == (
        "该时段没有空闲的调解员，例如：调解员李调解在 2026-12-07 09:00–10:00 已有预约 7"
        "（案件 （2026）京1号，沙坪）"
    )
    stages = Conflict(
        "a case at stage {stage} cannot be booked; sessions are booked for: {allowed}",
        values={"stage": Term("Intake"), "allowed": [Term("Fast-track"), "x"]},
    )
    assert "sessions are booked for: Fast-track, x" in stages.message
    assert stages.worded(zh).endswith(f"：{zh('Fast-track')}、x")
    assert zh("Fast-track") != "Fast-track" and zh("Intake") in stages.worded(zh)


def test_the_working_hours_refusal_names_the_zone_as_people_do():
    """English read "(08:30–12:00, 14:30–17:30, Asia/Shanghai)": the time zone database's
    name, where the court's pages say Beijing time."""
    zh = Catalogs().gettext("zh_CN")
    monday = datetime(2026, 12, 7, 19, 0, tzinfo=SHANGHAI)
    with pytest.raises(Invalid) as caught:
        check_working_time(WorkCalendar(), SHANGHAI, monday, monday + timedelta(hours=1))
    assert caught.value.message.endswith("(08:30–12:00, 14:30–17:30, Beijing time)")
    # Chinese may leave the zone unsaid (test above); it never reads the database's name.
    assert "Asia/Shanghai" not in caught.value.worded(zh)
    elsewhere = ZoneInfo("Asia/Urumqi")
    with pytest.raises(Invalid) as caught:
        check_working_time(WorkCalendar(), elsewhere, monday, monday + timedelta(hours=1))
    assert caught.value.message.endswith(", Asia/Urumqi)")


class _Form(BaseModel, extra="forbid"):
    name: str = Field(min_length=1, max_length=5)
    note: str = Field(default="", max_length=3)
    amount: int = Field(gt=0)
    day: date


def test_a_fields_problems_are_worded_in_each_language():
    zh = Catalogs().gettext("zh_CN")
    data = {"name": "", "note": "four", "amount": 0, "day": "soon", "colour": "red"}
    with pytest.raises(Invalid) as caught:
        parse_model(_Form, data)
    exc = caught.value
    worded = {field: problem.worded(zh) for field, problem in exc.problems}
    assert worded == {
        "name": "必须填写",
        "note": "不能超过 3 个字",
        "amount": "必须大于 0",
        "day": "必须是日期（年-月-日，如 2026-12-07）",
        "colour": "不是本表单的内容",
    }
    assert exc.worded(zh) == "name：必须填写" and exc.message == "name: is required"
    # Programs read every field and its English message in the details.
    assert exc.details[1] == {"field": "note", "message": "must be at most 3 characters"}


def test_every_kind_of_field_problem_has_its_chinese_wording_and_keeps_its_fields():
    zh = Catalogs().gettext("zh_CN")
    assert [m for m in _PYDANTIC.values() if zh(m) == m] == []
    assert {m: zh(m) for m in _PYDANTIC.values() if not _fields(zh(m)) <= _fields(m)} == {}


async def test_a_booking_on_a_holiday_is_refused_in_the_readers_language(aiohttp_client, app):
    world = await start_world(aiohttp_client, app)
    holiday = local(date(2026, 10, 1), 9, 0)  # National Day
    resp = await world.book("staff_shaping", "shaping", holiday)
    error = (await resp.json())["error"]
    assert (resp.status, error["code"]) == (422, "non_working_day"), error
    assert error["message"] == "2026-10-01 不是工作日"
    body = {"case_id": world.cases["shaping"].id, "starts_at": holiday, "duration_minutes": 60}
    resp = await world.api("staff_shaping", "POST", "/scheduling/bookings?lang=en", json=body)
    assert (await resp.json())["error"]["message"] == "2026-10-01 is not a working day"
    # A field the API cannot read is named, and its problem worded, in the reader's language.
    body["starts_at"] = "tomorrow morning"
    resp = await world.api("staff_shaping", "POST", "/scheduling/bookings", json=body)
    assert (await resp.json())["error"]["message"] == "starts_at：必须是日期和时间"
