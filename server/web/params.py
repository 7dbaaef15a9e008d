"""Reading ids from a request's path and a redirect target from its query: the one way.

Bounds come from ``server.bounds`` (an id the id column could hold): an id in the path that
cannot exist is simply not found (404). Query parameters are read through the operations'
query models, whose id and date fields are ``server.bounds``' ``RowId`` and ``Day`` (422
beyond them); a page's ``date`` through ``server.scheduling.views.parse_day``.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from aiohttp import web

from server import bounds
from server.errors import NotFound

# One whole message per kind of thing a path names, each with its own translation.
_NO_SUCH = {
    "agreement": "no such agreement",
    "booking": "no such booking",
    "call": "no such call",
    "case": "no such case",
    "document": "no such document",
    "invite": "no such invite",
    "party": "no such party",
    "segment": "no such segment",
    "session": "no such session",
    "template": "no such template",
    "user": "no such user",
}


def path_id(request: web.Request, name: str, *, code: str | None = None) -> int:
    """The id ``name`` of the path (``case_id`` ...), or 404 ``<noun>_not_found`` when it
    is no id the database could hold (routes that match any text included)."""
    value = bounds.row_id(request.match_info[name])
    if value is None:
        noun = name.removesuffix("_id")
        raise NotFound(_NO_SUCH.get(noun, "no such record"), code=code or f"{noun}_not_found")
    return value


def same_site_path(value: str | None, default: str = "/") -> str:
    """``value`` if it is a path on this site, else ``default``: the only way a ``next``
    parameter becomes a redirect (an open redirect after login would be a phishing aid).
    Browsers read ``\\`` as ``/`` and drop tabs and newlines, so ``/\\evil.example`` and
    ``/\\t/evil.example`` lead off-site as surely as ``//evil.example``."""
    if not value or not value.startswith("/"):
        return default
    for text in (value, unquote(value)):
        if "\\" in text or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
            return default
        if text.startswith("//"):
            return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return parts.path + (f"?{parts.query}" if parts.query else "")
