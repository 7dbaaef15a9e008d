"""The audit log's admin page: whether the sequencer keeps up (rows waiting, the delay from
written to chained), the latest signed checkpoint and the key to check checkpoints with."""

from __future__ import annotations

from aiohttp import web

from server.audit.status import chain_status
from server.web.auth import require_user
from server.web.http import render
from server.web.keys import CTX


async def admin_page(request: web.Request) -> web.Response:
    require_user(request)
    return render(request, "audit_admin.html", {"status": await chain_status(request[CTX])})
