"""Writing iCalendar text (RFC 5545): the few properties an invitation and a feed carry.

Written here rather than built through a general iCalendar library: each booking writes one
invitation per e-mail recipient in its own request, and the library's object model cost that
request more of the server's CPU than any SQL statement it makes (bench/README.md,
"Booking"). Parsing stays the library's job, in the tests, which read every line written
here back with it.
"""

from __future__ import annotations

from datetime import UTC, datetime

CRLF = "\r\n"
LINE_OCTETS = 75  # RFC 5545 3.1: lines SHOULD NOT be longer than 75 octets, CRLF excluded
_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", ";": "\\;", ",": "\\,", "\n": "\\n", "\r": ""})


def text(value: str) -> str:
    """A TEXT value (3.3.11): backslash, semicolon, comma and line breaks escaped."""
    return value.translate(_TEXT_ESCAPES)


def param(value: str) -> str:
    """A parameter value (3.2): quoted when it holds ``:;,``; a double quote cannot appear
    in one at all, so it becomes a single quote."""
    value = value.replace('"', "'").replace("\r", " ").replace("\n", " ")
    return f'"{value}"' if any(c in value for c in ":;,") else value


def utc(when: datetime) -> str:
    """A DATE-TIME in UTC form (3.3.5), e.g. ``20260921T010000Z``."""
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def fold(line: str) -> str:
    """One content line, folded (3.1) after at most 75 octets, never inside a character:
    the continuation lines begin with a space, which counts toward their 75."""
    data = line.encode()
    if len(data) <= LINE_OCTETS:
        return line + CRLF
    parts: list[str] = []
    start, limit = 0, LINE_OCTETS
    while start < len(data):
        end = min(start + limit, len(data))
        # Back off to the start of a character: UTF-8 continuation bytes are 0b10xxxxxx.
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1
        parts.append(data[start:end].decode())
        start, limit = end, LINE_OCTETS - 1
    return (CRLF + " ").join(parts) + CRLF


def prop(name: str, value: str, **params: str) -> str:
    """``NAME;PARAM=value:value``, folded; ``value`` is already in its type's form."""
    head = name + "".join(f";{key.upper()}={param(v)}" for key, v in params.items())
    return fold(f"{head}:{value}")


def component(name: str, *lines: str) -> str:
    """``BEGIN:NAME``, the lines (already folded, nested components included), ``END:NAME``."""
    return f"BEGIN:{name}{CRLF}{''.join(lines)}END:{name}{CRLF}"
