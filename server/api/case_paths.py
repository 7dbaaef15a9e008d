"""Reaching what a docket URL names, for the API and the pages alike: ids in the path bounded
to the id column, and the case loaded through ``server.access.load_case_for`` (another
office's case is a 404) for the logged-in user."""

from __future__ import annotations

from aiohttp import web

from server.access import load_case_for
from server.docket.schemas import MAX_ROW_ID
from server.errors import NotFound
from server.models.docket import Case
from server.web.auth import require_user
from server.web.keys import CTX


def path_id(request: web.Request, name: str) -> int:
    """The id ``name`` in the path (the route matches digits only). One beyond the id
    column's range cannot exist: it is simply not found, never a database error."""
    value = int(request.match_info[name])
    if value > MAX_ROW_ID:
        noun = name.removesuffix("_id")
        raise NotFound(f"{noun} {value} not found", code=f"{noun}_not_found")
    return value


async def case_for_request(request: web.Request, *, edit: bool = False) -> Case:
    """The case of the path's ``case_id`` if the user may see it (and, with ``edit``,
    change it)."""
    user = require_user(request)
    return await load_case_for(request[CTX].db, user, path_id(request, "case_id"), edit=edit)
