"""Reaching what a docket URL names, for the API and the pages alike: the path's case id read
by ``server.web.params.path_id``, and the case loaded through
``server.access.load_case_for`` (another office's case is a 404) for the logged-in user."""

from __future__ import annotations

from aiohttp import web

from server.access import load_case_for
from server.models.docket import Case
from server.web.auth import require_user
from server.web.keys import CTX
from server.web.params import path_id


async def case_for_request(request: web.Request, *, edit: bool = False) -> Case:
    """The case of the path's ``case_id`` if the user may see it (and, with ``edit``,
    change it)."""
    user = require_user(request)
    return await load_case_for(request[CTX].db, user, path_id(request, "case_id"), edit=edit)
