"""Request and response helpers every handler shares: body parsing and redirects.

``read_json`` is the one way an API handler reads its body: it rejects a wrong content type,
malformed JSON, unknown fields and wrong types with the error model's 4xx. ``read_body``
(and ``read_capped`` for one part of a multipart form) read a body that may be larger than
``max_body_bytes`` (a signature image, an uploaded PDF) up to the route's own cap.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel

from server.errors import BadRequest, UnsupportedMedia, parse_model
from server.i18n import DEFAULT_LANG
from server.jsonlimits import MalformedJson, loads
from server.web.auth import csrf_token
from server.web.body import CHUNK, body_too_large
from server.web.keys import CATALOGS, JINJA, LANG, SETTINGS, USER

M = TypeVar("M", bound=BaseModel)


async def read_capped(chunks: AsyncIterable[bytes], cap: int) -> bytes:
    """Everything ``chunks`` yields, refused with 413 as soon as it passes ``cap`` bytes (so
    an oversized upload is never held whole in memory)."""
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        if len(buf) > cap:
            raise body_too_large(cap)
    return bytes(buf)


async def read_body(request: web.Request, cap: int | None = None) -> bytes:
    """The request body; with ``cap``, the route's own limit instead of ``max_body_bytes``
    (413 above it, before reading when the declared length already says so)."""
    if cap is None:
        return await request.read()
    if request.content_length is not None and request.content_length > cap:
        raise body_too_large(cap)
    return await read_capped(request.content.iter_chunked(CHUNK), cap)


async def read_json(request: web.Request, model: type[M], *, cap: int | None = None) -> M:
    if request.content_type != "application/json":
        raise UnsupportedMedia("send the body as application/json")
    raw = await read_body(request, cap)
    try:
        # The bounded decoder: nesting and number size limited, every refusal one exception.
        data: Any = loads(raw) if raw else None
    except MalformedJson as exc:
        raise BadRequest(
            "malformed JSON: {why}", code="malformed_json", values={"why": exc}
        ) from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object", code="malformed_json")
    return parse_model(model, data)


async def read_form(request: web.Request, model: type[M], *, drop: tuple[str, ...] = ()) -> M:
    """Validate a submitted HTML form into the same models the API uses."""
    form = await request.post()
    data: dict[str, Any] = {}
    for key in form:
        if key in ("csrf_token", *drop):
            continue
        values = form.getall(key)
        data[key] = values[0] if len(values) == 1 else values
    return parse_model(model, data)


def gettext_of(request: web.Request) -> Callable[[str], str]:
    """The reader's gettext: the language the request chose (Chinese unless English was
    asked for), for words a handler puts together itself rather than a template."""
    return request.app[CATALOGS].gettext(request.get(LANG, DEFAULT_LANG))


def template_context(request: web.Request) -> dict[str, Any]:
    """What every page template can use: the user, language, gettext, CSRF token, url()."""
    lang = request.get(LANG, DEFAULT_LANG)
    catalogs = request.app[CATALOGS]
    gettext = catalogs.gettext(lang)
    return {
        "request": request,
        "user": request.get(USER),
        "lang": lang,
        # Between two sentences: Chinese runs them together ("。背对背…"), English spaces them.
        "gap": "" if lang.startswith("zh") else " ",
        # A word and what belongs to it in the language's brackets: "Free (3)", "空闲（3）";
        # an empty word gives the bracketed part alone (" (…)", "（…）"). The room's scripts
        # have the same message as ``aside`` (web/static/js/words.js).
        "aside": lambda what, more: gettext("%(what)s (%(more)s)") % {"what": what, "more": more},
        "_": gettext,
        "ngettext": catalogs.ngettext(lang),
        "pgettext": catalogs.pgettext(lang),
        "csrf_token": csrf_token(request),
        "settings": request.app[SETTINGS],
        "url": lambda name, **parts: str(
            request.app.router[name].url_for(**{k: str(v) for k, v in parts.items()})
        ),
    }


def render(
    request: web.Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    """The one way a page is rendered."""
    env = request.app[JINJA]
    html = env.get_template(template).render({**template_context(request), **(context or {})})
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


# What may stand unescaped in a Location header: URL syntax, never a control character or a
# space (a CR/LF from the request would otherwise end the header and drop the connection).
_LOCATION_SAFE = "/?#[]@!$&'()*+,;=:%-._~"


def see_other(location: str) -> web.Response:
    """A 303 to ``location``, percent-encoding whatever is not URL syntax in it (a path or
    query built from input, such as a verification code, cannot break the header)."""
    return web.Response(status=303, headers={"Location": quote(location, safe=_LOCATION_SAFE)})


def json_ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(
        data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str)
    )
