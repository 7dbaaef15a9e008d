"""``/healthz``: is the process up and can it reach its database."""

from __future__ import annotations

from aiohttp import web

from server.db import ping
from server.web.keys import ENGINE


async def healthz(request: web.Request) -> web.Response:
    db_ok = await ping(request.app[ENGINE])
    body = {"status": "ok" if db_ok else "degraded", "database": "ok" if db_ok else "unreachable"}
    return web.json_response(body, status=200 if db_ok else 503)
