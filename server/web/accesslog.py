"""The access log without credentials (issue 12, finding 12).

An invite link (``/join/<token>``, ``/sign/<token>``, ``/api/v1/invites/<token>/...``,
``?invite=<token>``) or a calendar feed URL (``/calendar/<token>.ics``) is a credential:
whoever reads the log could join a hearing as a party or read a judge's calendar. Every
value of a log line (the request line, the Referer, any header the format names) goes
through ``redact`` before it is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from aiohttp.web import StreamResponse
from aiohttp.web_log import AccessLogger
from aiohttp.web_request import BaseRequest

HIDDEN = "[redacted]"
_PATH_TOKENS = re.compile(
    r"(?P<head>/(?:join|sign|calendar)/)[^/?#\s\"]+"
    r"|(?P<ihead>/invites/)(?!\d+(?:[/?#\s\"]|$))[^/?#\s\"]+"
)
_QUERY_TOKENS = re.compile(r"(?P<head>[?&](?:invite|token|access_token)=)[^&#\s\"]*", re.I)


def _path(m: re.Match[str]) -> str:
    head = m.group("head") or m.group("ihead")
    suffix = ".ics" if head == "/calendar/" and m.group().endswith(".ics") else ""
    return f"{head}{HIDDEN}{suffix}"


def redact(text: str) -> str:
    """``text`` with every invite, signing and feed token replaced by ``[redacted]``."""
    text = _PATH_TOKENS.sub(_path, text)
    return _QUERY_TOKENS.sub(lambda m: m.group("head") + HIDDEN, text)


class RedactingAccessLogger(AccessLogger):
    """aiohttp's access logger, each value redacted (``web.run_app(access_log_class=...)``)."""

    def _format_line(
        self, request: BaseRequest, response: StreamResponse, time: float
    ) -> Iterable[tuple[str | tuple[str, str], str]]:
        return [
            (key, redact(value) if isinstance(value, str) else value)
            for key, value in super()._format_line(request, response, time)
        ]
