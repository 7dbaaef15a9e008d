"""The one decoder for JSON from outside (request bodies, WebSocket frames).

Python's ``json`` has no limits of its own: a body of 2,000 ``[`` raises ``RecursionError``
and a 5,000-digit number ``ValueError`` (the int-from-string limit), both outside
``JSONDecodeError``, so a handler that catches only that answers 500. ``loads`` refuses
such input with one exception, ``MalformedJson`` (a ``ValueError``), that callers map to
their own "malformed" answer (400 ``malformed_json``, the ``bad_json`` frame). Pure: no
aiohttp, so ``signaling/`` uses it too.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 24  # an int64 has 19 digits; a float's repr at most 24 characters


class MalformedJson(ValueError):
    """The text is not JSON, or is JSON beyond the limits above."""


def _depth(value: Any) -> int:
    """How deeply ``value``'s containers nest (iteratively: the decoder's own recursion
    limit, about 1,000, has already refused anything deeper)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        elif not isinstance(item, list):
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in item)
    return deepest


def _number(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        if len(text) > MAX_NUMBER_CHARS:
            raise MalformedJson(f"a number of {len(text)} characters is too long")
        value = kind(text)
        if not math.isfinite(value):
            raise MalformedJson(f"{text} is too large")
        return value

    return parse


def _no_constant(name: str) -> Any:
    raise MalformedJson(f"{name} is not JSON")


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """``raw`` decoded (bytes as UTF-8), or ``MalformedJson`` saying why not."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise MalformedJson(f"not UTF-8: {exc}") from None
    try:
        value = json.loads(
            text,
            parse_int=_number(int),
            parse_float=_number(float),
            parse_constant=_no_constant,
        )
    except MalformedJson:
        raise
    except RecursionError:
        raise MalformedJson(f"nested deeper than {max_depth} levels") from None
    except (json.JSONDecodeError, ValueError) as exc:
        raise MalformedJson(str(exc)) from None
    if _depth(value) > max_depth:
        raise MalformedJson(f"nested deeper than {max_depth} levels")
    return value
