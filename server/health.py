"""``/healthz``: is the process up and can it reach its database."""

from __future__ import annotations

from aiohttp import web

from server.appkeys import ENGINE
from server.db import ping


async def healthz(request: web.Request) -> web.Response:
    db_ok = await ping(request.app[ENGINE])
    body = {"status": "ok" if db_ok else "degraded", "database": "ok" if db_ok else "unreachable"}
    return web.json_response(body, status=200 if db_ok else 503)


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz, name="healthz")
