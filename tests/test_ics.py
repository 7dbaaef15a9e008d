"""The iCalendar writer (``server.scheduling.ics``): every line it writes is read back the
same by a general parser (the icalendar library), folded within 75 octets and never inside a
character, with the text and parameter values that need escaping or quoting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from icalendar import Calendar

from server.scheduling import ics

SHANGHAI = timezone(timedelta(hours=8))
# Long, Chinese (three octets a character), with every character TEXT must escape.
DESCRIPTION = (
    "您好，张三：\n远程调解定于2026年9月21日9:00举行; 请提前十分钟进入, 链接如下："
    "https://court.example/join/12.abcdefghijklmnop.qrstuvwxyz0123456789 C:\\new\\;" * 3
)


def _calendar(description: str, name: str) -> bytes:
    event = ics.component(
        "VEVENT",
        ics.prop("UID", ics.text("booking-1@courtlink")),
        ics.prop("DTSTART", ics.utc(datetime(2026, 9, 21, 9, 0, tzinfo=SHANGHAI))),
        ics.prop("DESCRIPTION", ics.text(description)),
        ics.prop("ATTENDEE", "mailto:zhang@example.cn", cn=name, role="REQ-PARTICIPANT"),
    )
    return ics.component("VCALENDAR", ics.prop("VERSION", "2.0"), event).encode()


def test_what_is_written_reads_back_the_same() -> None:
    body = _calendar(DESCRIPTION, '张三, "律师": 代理人;')
    (event,) = Calendar.from_ical(body).walk("VEVENT")
    assert str(event["DESCRIPTION"]) == DESCRIPTION
    assert event.decoded("DTSTART") == datetime(2026, 9, 21, 1, 0, tzinfo=UTC)
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:zhang@example.cn"
    # A double quote cannot stand in a parameter value; the rest survives, quoted.
    assert attendee.params["CN"] == "张三, '律师': 代理人;"
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT"


def test_lines_are_folded_within_75_octets_and_never_inside_a_character() -> None:
    body = _calendar(DESCRIPTION, "张三")
    lines = body.split(b"\r\n")
    assert lines[-1] == b"" and all(b"\n" not in line for line in lines)
    assert max(len(line) for line in lines) <= 75
    folded = [line for line in lines if line.startswith(b" ")]
    assert len(folded) > 5
    for line in lines:
        line.decode()  # each physical line is whole UTF-8: no character was cut in two


def test_a_short_line_is_left_alone() -> None:
    assert ics.fold("VERSION:2.0") == "VERSION:2.0\r\n"
    assert ics.fold("X:" + "a" * 73) == "X:" + "a" * 73 + "\r\n"
    assert ics.fold("X:" + "a" * 74) == "X:" + "a" * 73 + "\r\n a\r\n"
