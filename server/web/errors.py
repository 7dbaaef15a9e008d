"""The error model on the wire: each domain error class to its HTTP status, and one
middleware that renders every error, JSON ``{"error": {"code", "message", "details"?}}``
for the API and anything asking for JSON, a readable page otherwise.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from aiohttp import web
from sqlalchemy.exc import TimeoutError as PoolTimeout

from server import errors as e
from server.web.keys import Handler

log = logging.getLogger(__name__)
BUSY_RETRY_AFTER_S = 5

# Most specific first: the first class an error is an instance of decides its status.
_STATUS: tuple[tuple[type[e.AppError], int], ...] = (
    (e.Unauthorized, 401),
    (e.Forbidden, 403),
    (e.NotFound, 404),
    (e.Conflict, 409),
    (e.PayloadTooLarge, 413),
    (e.UnsupportedMedia, 415),
    (e.Invalid, 422),
    (e.TooManyRequests, 429),
    (e.BadRequest, 400),
)


def status_of(exc: e.AppError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def wants_json(request: web.Request) -> bool:
    if request.path.startswith("/api/"):
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def worded(request: web.Request, refusal: e.AppError) -> str:
    """A refusal's message in the reader's language (Chinese unless English was asked for):
    for the error shape, the error page and a page that shows a refusal in its form."""
    from server.web.http import gettext_of  # http renders pages with this module's help

    try:
        return refusal.worded(gettext_of(request))
    except Exception:  # an error answer must never fail for its wording
        log.exception("error message not translated")
        return refusal.message


def error_response(
    request: web.Request,
    status: int,
    code: str,
    message: str | e.AppError,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """``message``: a literal (the catalogue's key) or the refusal itself, with its values."""
    # The message is for people, in the reader's language as every page is; ``code`` stays
    # the same for programs.
    text = worded(request, message if isinstance(message, e.AppError) else e.AppError(message))
    if wants_json(request):
        body: dict[str, Any] = {"code": code, "message": text}
        if details is not None:
            body["details"] = details
        return web.json_response({"error": body}, status=status, headers=headers)
    try:
        from server.web.http import render  # http renders pages with this module's help

        resp = render(
            request,
            "error.html",
            {"status": status, "code": code, "message": text},
            status=status,
        )
    except Exception:  # the error page must never fail to render
        log.exception("error page failed")
        resp = web.Response(text=f"{status} {text}", status=status)
    if headers:
        resp.headers.update(headers)
    return resp


def app_error_response(request: web.Request, exc: e.AppError) -> web.Response:
    return error_response(request, status_of(exc), exc.code, exc, exc.details)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except e.AppError as exc:
        if isinstance(exc, e.Unauthorized) and not wants_json(request) and request.method == "GET":
            # A page asked for by someone not (or no longer) logged in: send them to log in.
            raise web.HTTPFound(f"/login?next={quote(request.path_qs)}") from None
        return app_error_response(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        message = (
            exc.reason if exc.text is None or exc.text.startswith(str(exc.status)) else exc.text
        )
        if exc.status == 413:
            message = "request body too large"
        return error_response(request, exc.status, code, message)
    except PoolTimeout:
        # Every database connection stayed busy for the whole pool timeout (a burst beyond
        # what the pool holds, on an overloaded machine): say so and when to try again,
        # not a 500. Nothing was written: the request never had a connection.
        log.warning("no database connection for %s %s in time", request.method, request.path)
        return error_response(
            request,
            503,
            "busy",
            "the server is busy; please try again in a few seconds",
            headers={"Retry-After": str(BUSY_RETRY_AFTER_S)},
        )
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(request, 500, "internal", "internal server error")
