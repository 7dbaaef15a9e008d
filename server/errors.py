"""The one error model: domain errors raised anywhere, rendered by one middleware.

API requests (``/api/``, or anything asking for JSON) get
``{"error": {"code": ..., "message": ..., "details"?: ...}}``; pages get a readable page.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)


class AppError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class BadRequest(AppError):
    status, code = 400, "bad_request"


class Unauthorized(AppError):
    status, code = 401, "unauthorized"


class Forbidden(AppError):
    status, code = 403, "forbidden"


class NotFound(AppError):
    status, code = 404, "not_found"


class Conflict(AppError):
    status, code = 409, "conflict"


class PayloadTooLarge(AppError):
    status, code = 413, "payload_too_large"


class UnsupportedMedia(AppError):
    status, code = 415, "unsupported_media_type"


class Invalid(AppError):
    status, code = 422, "invalid"


class TooManyRequests(AppError):
    status, code = 429, "too_many_requests"


def invalid_from_pydantic(exc: ValidationError) -> Invalid:
    details = [
        {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    first = details[0] if details else {"field": "", "message": "invalid"}
    return Invalid(f"{first['field']}: {first['message']}", details=details)


M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: Any) -> M:
    """Validate untrusted data into a pydantic model, raising our ``Invalid`` on failure."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from_pydantic(exc) from None


def wants_json(request: web.Request) -> bool:
    if request.path.startswith("/api/"):
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(
    request: web.Request,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    if wants_json(request):
        body: dict[str, Any] = {"code": code, "message": message}
        if details is not None:
            body["details"] = details
        return web.json_response({"error": body}, status=status, headers=headers)
    try:
        from server.http import render  # errors is imported by http; import lazily

        resp = render(
            request,
            "error.html",
            {"status": status, "code": code, "message": message},
            status=status,
        )
    except Exception:  # the error page must never fail to render
        log.exception("error page failed")
        resp = web.Response(text=f"{status} {message}", status=status)
    if headers:
        resp.headers.update(headers)
    return resp


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except AppError as exc:
        if exc.status == 401 and not wants_json(request) and request.method == "GET":
            # A page asked for by someone not (or no longer) logged in: send them to log in.
            raise web.HTTPFound(f"/login?next={quote(request.path_qs)}") from None
        return error_response(request, exc.status, exc.code, exc.message, exc.details)
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
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(request, 500, "internal", "internal server error")
