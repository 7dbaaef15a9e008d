"""The one error model of the domain: plain exceptions with a stable code and a message.

Domain functions raise these; they know nothing of HTTP. The web layer
(``server.web.errors``) maps each class to its status and renders the JSON or HTML shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError


class Term(str):
    """A value of a refusal that is itself a word of the catalogue (a stage's name): worded
    in the reader's language with the message around it."""


class AppError(Exception):
    """A refusal the caller can act on; ``code`` is stable for programs, ``message`` is for
    people, ``details`` (optional) names the fields at fault.

    A message with values in it is written as a template with ``values`` (``"{day} is not
    a working day", values={"day": ...}``), never put together beforehand: the template is
    what the catalogue translates, so the web layer can word the refusal in the reader's
    language (``worded``) and fill the values in then. A value may itself be a refusal,
    worded in the same language."""

    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        values: Mapping[str, object] | None = None,
    ) -> None:
        self.template = message
        self.values = dict(values or {})
        # The fields at fault, each with its own refusal (``fields_invalid``); none for most.
        self.problems: list[tuple[str, AppError]] = []
        self.message = self.worded(lambda text: text)
        super().__init__(self.message)
        if code:
            self.code = code
        self.details = details

    def worded(self, gettext: Callable[[str], str]) -> str:
        """The message in the language of ``gettext`` (the template's translation, filled)."""
        if not self.values:
            return gettext(self.template)
        values = {k: _worded(v, gettext) for k, v in self.values.items()}
        for text in (gettext(self.template), self.template):
            try:
                return text.format(**values)
            except (KeyError, IndexError, ValueError):  # a field lost, or a value missing
                continue
        return self.template  # a refusal must never fail for its wording


def _worded(value: object, gettext: Callable[[str], str]) -> object:
    if isinstance(value, AppError):
        return value.worded(gettext)
    if isinstance(value, Term):
        return gettext(value)
    if isinstance(value, list | tuple):  # a list of names, in the language's own way
        return gettext(", ").join(str(_worded(v, gettext)) for v in value)
    return value


class BadRequest(AppError):
    code = "bad_request"


class Unauthorized(AppError):
    code = "unauthorized"


class Forbidden(AppError):
    code = "forbidden"


class NotFound(AppError):
    code = "not_found"


class Conflict(AppError):
    code = "conflict"


class PayloadTooLarge(AppError):
    code = "payload_too_large"


class UnsupportedMedia(AppError):
    code = "unsupported_media_type"


class Invalid(AppError):
    code = "invalid"


class TooManyRequests(AppError):
    code = "too_many_requests"


# pydantic's kinds of field error, as people read them; the limits come from pydantic's own
# context ({max_length}, {ge}...). One sentence each, so each has its own translation.
_TEXT_REQUIRED = "is required"
_PYDANTIC: dict[str, str] = {
    "missing": _TEXT_REQUIRED,
    "string_too_short": "must be at least {min_length} characters",
    "string_too_long": "must be at most {max_length} characters",
    "string_pattern_mismatch": "has an invalid format",
    "string_type": "must be text",
    "bool_parsing": "must be yes or no",
    "bool_type": "must be yes or no",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "decimal_parsing": "must be a number",
    "decimal_type": "must be a number",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "literal_error": "is not one of the allowed values",
    "enum": "is not one of the allowed values",
    "extra_forbidden": "is not a field of this form",
    "too_short": "must have at least {min_length} entries",
    "too_long": "must have at most {max_length} entries",
    "date_parsing": "must be a date (YYYY-MM-DD)",
    "date_type": "must be a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
    "datetime_parsing": "must be a date and time",
    "datetime_type": "must be a date and time",
    "datetime_from_date_parsing": "must be a date and time",
    "time_parsing": "must be a time (HH:MM)",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
}
_NOT_VALID = "is not valid"
_VALUE_ERROR = "Value error, "


def field_problem(err: Mapping[str, Any]) -> AppError:
    """One of pydantic's field errors as a refusal in the catalogue's words: its kind's
    sentence with pydantic's limits filled in, or the model's own message (a validator's
    ``ValueError``, itself a msgid)."""
    kind, ctx, msg = err.get("type", ""), err.get("ctx") or {}, str(err.get("msg", ""))
    if kind == "value_error" and msg.startswith(_VALUE_ERROR):
        return Invalid(msg[len(_VALUE_ERROR) :])
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return Invalid(_TEXT_REQUIRED)  # an empty text field: not "at least 1 character"
    values = {k: v for k, v in ctx.items() if isinstance(v, str | int | float | Decimal)}
    return Invalid(_PYDANTIC.get(kind, _NOT_VALID), values=values)


def fields_invalid(problems: Sequence[tuple[str, AppError]]) -> Invalid:
    """One refusal for the fields at fault, each with its own refusal (``problems``, by the
    field's path). Its message is the first problem, "{field}: {message}"; its ``details``
    list them all for programs (each field and its English message); a page words each
    problem in the reader's language beside the field's own label (``form_errors``)."""
    field, first = problems[0] if problems else ("", Invalid(_NOT_VALID))
    exc = Invalid(
        "{field}: {message}",
        values={"field": field, "message": first},
        details=[{"field": f, "message": problem.message} for f, problem in problems],
    )
    exc.problems = list(problems)
    return exc


def invalid_from_pydantic(exc: ValidationError) -> Invalid:
    return fields_invalid(
        [
            (".".join(str(p) for p in err["loc"]), field_problem(err))
            for err in exc.errors(include_url=False, include_input=False)
        ]
    )


M = TypeVar("M", bound=BaseModel)


def _has_nul(data: Any) -> bool:
    # Iterative: the data may be nested deeper than Python's recursion limit.
    todo = [data]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list | tuple):
            todo.extend(item)
    return False


def parse_model(model: type[M], data: Any) -> M:
    """Validate untrusted data into a pydantic model, raising our ``Invalid`` on failure.
    No text may hold a NUL character: PostgreSQL cannot store one (it was a 500 there) and
    no field of the product means one."""
    if _has_nul(data):
        raise Invalid("text may not contain NUL characters", code="nul_character")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from_pydantic(exc) from None
