"""The one error model of the domain: plain exceptions with a stable code and a message.

Domain functions raise these; they know nothing of HTTP. The web layer
(``server.web.errors``) maps each class to its status and renders the JSON or HTML shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


def invalid_from_pydantic(exc: ValidationError) -> Invalid:
    details = [
        {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
    first = details[0] if details else {"field": "", "message": "invalid"}
    return Invalid("{field}: {message}", details=details, values=first)


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
