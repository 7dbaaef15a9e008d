"""Security headers on every response (issue 12, finding 11).

Added in ``on_response_prepare`` rather than a middleware so that nothing escapes them:
static files, the router's own 404/405, redirects raised as exceptions and error pages all
pass through it. A WebSocket handshake is prepared the same way and gets them too
(harmless there).

- ``Content-Security-Policy``: scripts only from this site, never inline, so an injected
  ``<script>`` or ``onclick=`` does nothing; JSON data blocks (``type="application/json"``)
  are not scripts and stay allowed. ``frame-ancestors 'none'`` (and ``X-Frame-Options``) keep
  the end-session and cancel buttons out of another site's frame.
- A handler marked ``@same_origin_frames`` (the agreement document, shown in an iframe of our
  own pages) may be framed by this site only.
- ``Referrer-Policy``: ``same-origin``, and ``no-referrer`` on the pages whose URL holds a
  credential (an invite or a calendar feed), so no link followed from them carries it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

F = TypeVar("F", bound=Callable[..., object])

_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    # Styles may be inline: the agreement document (the court's template, also the PDF's
    # source) carries its own <style> and is previewed in a srcdoc frame, which inherits
    # this policy. Inline styles cannot run code; scripts stay 'self' only.
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data: blob:",
    "media-src": "'self' blob:",
    "connect-src": "'self' ws: wss:",
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
}
_CSP = "; ".join(f"{k} {v}" for k, v in _POLICY.items())
CSP_NO_FRAMES = f"{_CSP}; frame-ancestors 'none'"
CSP_OWN_FRAMES = f"{_CSP}; frame-ancestors 'self'"
# Paths that carry a credential: invite links (pages and API), signing links, calendar feeds.
_SECRET_PATHS = ("/join/", "/sign/", "/api/v1/invites/", "/calendar/")


def same_origin_frames(handler: F) -> F:
    """Mark ``handler``'s responses as framable by this site's own pages."""
    handler.same_origin_frames = True  # type: ignore[attr-defined]
    return handler


def _framable(request: web.Request) -> bool:
    match_info = request.match_info if request.match_info is not None else None
    handler = getattr(match_info, "handler", None)
    return bool(getattr(handler, "same_origin_frames", False))


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The ``on_response_prepare`` hook of the app."""
    headers = response.headers
    own = _framable(request)
    headers.setdefault("Content-Security-Policy", CSP_OWN_FRAMES if own else CSP_NO_FRAMES)
    headers.setdefault("X-Frame-Options", "SAMEORIGIN" if own else "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    secret = request.path.startswith(_SECRET_PATHS) or "invite" in request.query
    headers.setdefault("Referrer-Policy", "no-referrer" if secret else "same-origin")
