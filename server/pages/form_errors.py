"""Readable form errors: a refusal of fields turned into translated lines, one per field.

Pages validate forms with the same pydantic models as the API; a refusal of fields
(``server.errors.fields_invalid``) holds each field's problem, worded here beside the page's
own label for the field: "申请人电话：格式不正确".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiohttp import web

from server.errors import AppError

Gettext = Callable[[str], str]


def error_lines(exc: AppError, labels: Mapping[str, str], _: Gettext) -> list[str]:
    """One translated line per field at fault; ``labels`` maps a field path to its English
    label (a field with none is named by its first part's, else not at all)."""
    if not exc.problems:
        return [exc.worded(_)]
    lines = []
    for field, problem in exc.problems:
        label = labels.get(field) or labels.get(field.split(".")[0])
        message = problem.worded(_)
        lines.append(f"{_(label)}{_(': ')}{message}" if label else message)
    return lines


async def form_values(request: web.Request) -> dict[str, str]:
    """The submitted form as plain strings (first value of each key), to refill the form."""
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
