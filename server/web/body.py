"""The body of an unsafe request, read whole before anything touches the database.

A client decides how fast its body arrives. Whatever waits for it must hold nothing shared,
so the context middleware calls ``read_ahead`` before it opens the request's database
session: the body is read up to the route's cap (``max_body_bytes``, or a route's own
``@body_cap`` for a signature image or an uploaded PDF) within ``allowed_seconds`` (408 when
it does not arrive in time, 413 when it is larger than the cap). The bytes are then handed
back to the request as an already complete stream, so every way a handler reads a body
(``request.read()``, ``post()``, ``multipart()``, ``request.content``,
``server.web.http.read_body``) works unchanged and never waits on the network again. How
the body arrived (``BODY_ARRIVAL``: its first chunk, and the time from it to the last) is
kept for the one route that wants it, the pre-join's uplink probe (server/api/probe.py).
A client that goes away before its body is whole gets a 400, not a logged server error.

Routes with a larger cap are read here too, rather than left to stream in their handlers:
those handlers look things up before they read (the verification page finds its code
first), so "no database work before the body" would otherwise be a rule every such handler
must keep by hand. They held the whole body in memory anyway (a PDF is checked whole).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.streams import StreamReader

from server.errors import PayloadTooLarge
from server.web.keys import SETTINGS

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CHUNK = 64 * 1024
MB = 1024 * 1024

H = TypeVar("H", bound=Callable[..., object])


@dataclass(frozen=True)
class Arrival:
    """How a body came in: the bytes of its first chunk (on their way before any clock could
    start) and the seconds from that chunk to the last."""

    first_bytes: int
    seconds: float


BODY_ARRIVAL = web.RequestKey("body_arrival", Arrival)


def body_too_large(cap: int) -> PayloadTooLarge:
    """The one refusal of a body over its route's cap, sized as people read sizes (a clerk
    uploading a scan reads "32 MB", not a count of bytes)."""
    size = f"{cap // MB} MB" if cap >= MB else f"{max(1, cap // 1024)} KB"
    return PayloadTooLarge("what was sent is larger than {size}", values={"size": size})


def body_cap(cap: int) -> Callable[[H], H]:
    """Let a route accept a body up to ``cap`` bytes instead of ``max_body_bytes``."""

    def mark(handler: H) -> H:
        handler.body_cap = cap  # type: ignore[attr-defined]
        return handler

    return mark


def route_cap(request: web.Request) -> int:
    cap: int | None = getattr(request.match_info.route.handler, "body_cap", None)
    return cap if cap is not None else request.app[SETTINGS].max_body_bytes


def allowed_seconds(request: web.Request, cap: int) -> float:
    """How long the body may take: ``body_read_timeout_seconds`` for up to
    ``max_body_bytes``, and as much again for each further ``max_body_bytes`` it declares (or,
    undeclared, the route accepts), so a large upload on a slow line still gets through
    while a small body cannot be dragged out."""
    settings = request.app[SETTINGS]
    size = request.content_length if request.content_length is not None else cap
    return settings.body_read_timeout_seconds * max(1.0, size / settings.max_body_bytes)


async def read_ahead(request: web.Request) -> None:
    """Read an unsafe request's whole body now (see the module docstring)."""
    if request.method not in UNSAFE or not request.body_exists:
        return
    cap = route_cap(request)
    if request.content_length is not None and request.content_length > cap:
        raise body_too_large(cap)
    # Read through a clone: it shares the network stream, and the request itself (whose
    # ``content`` aiohttp caches on first use) is left untouched until its complete body is
    # handed back (``_hand_back``). The cap is checked as the body grows.
    reading = request.clone()
    try:
        async with asyncio.timeout(allowed_seconds(request, cap)):
            body, arrival = await _read_timed(reading.content, cap)
    except TimeoutError:
        raise web.HTTPRequestTimeout(text="the request body did not arrive in time") from None
    except ConnectionResetError:
        # The client went away mid-body (a page closed, an upload aborted): nobody is left to
        # answer, and it is no fault of the server's.
        raise web.HTTPBadRequest(text="the connection closed before the body arrived") from None
    request[BODY_ARRIVAL] = arrival
    _hand_back(request, body)


async def _read_timed(stream: StreamReader, cap: int) -> tuple[bytes, Arrival]:
    buf = bytearray()
    first = 0
    first_at = last_at = 0.0
    async for chunk in stream.iter_any():
        last_at = time.monotonic()
        if not first:
            first, first_at = len(chunk), last_at
        buf += chunk
        if len(buf) > cap:
            raise body_too_large(cap)
    return bytes(buf), Arrival(first, last_at - first_at)


class _Complete(BaseProtocol):
    """The transport of a body already in memory: nothing to pause or resume."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)

    @property
    def connected(self) -> bool:
        return True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


def _hand_back(request: web.Request, body: bytes) -> None:
    loop = asyncio.get_running_loop()
    stream = StreamReader(_Complete(loop), max(len(body), CHUNK), loop=loop)
    if body:
        stream.feed_data(body)
    stream.feed_eof()
    # aiohttp has no public way to give a request a body it has already read; the payload
    # slot is what read(), post(), multipart() and .content all read from.
    request._payload = stream
