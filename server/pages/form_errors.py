"""Readable form errors: turn the error model's ``Invalid`` details into translated lines.

Pages validate forms with the same pydantic models as the API; this maps a validation
detail (``{"field": "applicant.phone", "message": "String should match pattern ..."}``) to
"申请人电话：格式不正确" using the page's own field labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiohttp import web

from server.errors import AppError

Gettext = Callable[[str], str]

# pydantic's English messages, by prefix, to our msgids (translated in docket.po).
_KINDS: tuple[tuple[str, str], ...] = (
    ("Field required", "is required"),
    ("String should have at least 1 character", "is required"),
    ("String should have at least", "is too short"),
    ("String should have at most", "is too long"),
    ("String should match pattern", "has an invalid format"),
    ("Input should be a valid boolean", "must be yes or no"),
    ("Input should be a valid integer", "must be a whole number"),
    ("Input should be", "is not one of the allowed values"),
    ("Extra inputs are not permitted", "is not a field of this form"),
)
_VALUE_ERROR = "Value error, "


def _message(raw: str, _: Gettext) -> str:
    if raw.startswith(_VALUE_ERROR):
        return _(raw[len(_VALUE_ERROR) :])
    for prefix, msgid in _KINDS:
        if raw.startswith(prefix):
            return _(msgid)
    # Our own domain messages ("unknown street office") are msgids themselves.
    return _(raw) if raw else _("is not valid")


def error_lines(exc: AppError, labels: Mapping[str, str], _: Gettext) -> list[str]:
    """One translated line per problem; ``labels`` maps a field path to its English label."""
    details = exc.details if isinstance(exc.details, list) else None
    if not details:
        return [exc.worded(_)]
    lines = []
    for item in details:
        field = str(item.get("field", ""))
        label = labels.get(field) or labels.get(field.split(".")[0])
        message = _message(str(item.get("message", "")), _)
        lines.append(f"{_(label)}{_(': ')}{message}" if label else message)
    return lines


async def form_values(request: web.Request) -> dict[str, str]:
    """The submitted form as plain strings (first value of each key), to refill the form."""
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
