"""The pre-join's network probe: bytes down and bytes up, timed by the page, so that the
self-test can suggest a video mode (standard, data saver, audio only) before the person
joins (issue 18 part 4).

The page times a download and an upload against the server that will carry its media, so
what it measures is the path that matters: a street office's line or a phone on mobile data.
It is an estimate, not a promise; in the room the SFU's own estimate decides what is sent.

The bytes are random (nothing along the way compresses them) and carry nothing of the case.
Who may probe is who may join the session, while it is live (``access.can_probe_network``):
staff by their login, a party or a guest by their link. Every probe is capped in size, so a
link cannot be turned into a firehose.
"""

from __future__ import annotations

import os
from functools import cache

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from server.access import can_probe_network
from server.api.registry import ApiRouter
from server.errors import Forbidden, parse_model
from server.sessions import load_session_for, verify_invite
from server.web.auth import csrf_exempt, require_user
from server.web.body import BODY_ARRIVAL, body_cap
from server.web.http import json_ok, read_body
from server.web.keys import CTX
from server.web.params import path_id

api = ApiRouter("sessions")

MAX_PROBE_BYTES = 1 << 20  # 8 Mb: under a second on a line that carries standard video
DEFAULT_PROBE_BYTES = 256 * 1024


class ProbeQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    bytes: int = Field(
        DEFAULT_PROBE_BYTES, ge=1, le=MAX_PROBE_BYTES, description="how many bytes to send"
    )


class ProbeReceived(BaseModel):
    received: int = Field(description="the bytes of the body that arrived")
    kbps: float | None = Field(
        description="the rate they arrived at, from the first chunk to the last (null when "
        "the body came at once, too fast to time)"
    )


@cache
def _random_block() -> bytes:
    """One block of random bytes for every probe (made once: urandom is not free)."""
    return os.urandom(MAX_PROBE_BYTES)


def _send(request: web.Request) -> web.Response:
    size = parse_model(ProbeQuery, dict(request.query)).bytes
    return web.Response(
        body=_random_block()[:size],
        content_type="application/octet-stream",
        # Never from a cache: a cached answer would measure the disk, not the line.
        headers={"Cache-Control": "no-store"},
    )


async def _receive(request: web.Request) -> web.Response:
    """How fast the body came, timed by the server as it arrived (server.web.body): the
    browser's own upload progress counts bytes handed to its socket, which on a slow uplink
    runs ahead of the wire by the socket's buffer."""
    data = await read_body(request, MAX_PROBE_BYTES)
    arrival = request.get(BODY_ARRIVAL)
    kbps = None
    if arrival is not None and arrival.seconds > 0.001:
        kbps = (len(data) - arrival.first_bytes) * 8 / arrival.seconds / 1000
    return json_ok(ProbeReceived(received=len(data), kbps=kbps).model_dump())


async def _staff_session(request: web.Request) -> None:
    user = require_user(request)
    ctx = request[CTX]
    session = await load_session_for(ctx, path_id(request, "session_id"))
    if not can_probe_network(user, session):
        raise Forbidden("this session has ended", code="session_ended")


async def _link(request: web.Request) -> None:
    # A party's or a guest's link, as for joining the session: live, not withdrawn.
    await verify_invite(request[CTX], request.match_info["token"])


@api.route(
    "GET", r"/sessions/{session_id:\d+}/probe", name="api_session_probe",
    summary="Random bytes for the pre-join's downlink measurement", query=ProbeQuery,
    content_type="application/octet-stream", errors=(401, 403, 404, 422),
)  # fmt: skip
async def probe_down(request: web.Request) -> web.Response:
    await _staff_session(request)
    return _send(request)


@api.route(
    "POST", r"/sessions/{session_id:\d+}/probe", name="api_session_probe_up",
    summary="Takes random bytes for the pre-join's uplink measurement",
    response=ProbeReceived, upload="application/octet-stream", errors=(401, 403, 404, 413),
)  # fmt: skip
@body_cap(MAX_PROBE_BYTES)
async def probe_up(request: web.Request) -> web.Response:
    await _staff_session(request)
    return await _receive(request)


@api.route(
    "GET", "/invites/{token}/probe", name="api_invite_probe",
    summary="Random bytes for the pre-join's downlink measurement, by a party's or guest's link",
    query=ProbeQuery, content_type="application/octet-stream", public=True,
    errors=(401, 403, 422),
)  # fmt: skip
async def link_probe_down(request: web.Request) -> web.Response:
    await _link(request)
    return _send(request)


@api.route(
    "POST", "/invites/{token}/probe", name="api_invite_probe_up",
    summary="Takes random bytes for the pre-join's uplink measurement, by a link",
    response=ProbeReceived, upload="application/octet-stream", public=True,
    errors=(401, 403, 413),
)  # fmt: skip
@csrf_exempt  # the signed link is the credential, as for a party's documents
@body_cap(MAX_PROBE_BYTES)
async def link_probe_up(request: web.Request) -> web.Response:
    await _link(request)
    return await _receive(request)
