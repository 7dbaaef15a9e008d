"""The request's unit of work: one database session and one ``Context`` per request, and the
language it is answered in.

The context is built here and only here, from the app's ``Court``; the auth middleware then
names its actor. The session commits when the handler succeeds (after-commit hooks run only
then) and rolls back when it fails, so an error never leaves anything half-written.

No session exists before the request's body has been read (``server.web.body``: a slow
client waits alone). A GET or HEAD (a WebSocket upgrade too) reads on ``db.reader``, which
on SQLite takes no lock; an unsafe request takes SQLite's write lock at its first statement.
A read that turns out to write and meets a concurrent writer is run once more as a writer
(why, in ``server.db``).
"""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from server import db as dbmod
from server.context import Actor
from server.i18n import LANG_COOKIE, pick_lang
from server.web.body import UNSAFE, read_ahead
from server.web.keys import COURT, CTX, ENGINE, LANG, Handler

log = logging.getLogger(__name__)
STATIC_PREFIX = "/static/"


@web.middleware
async def context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(STATIC_PREFIX):
        return await handler(request)
    if request.method in UNSAFE:
        await read_ahead(request)
        return await _unit_of_work(request, handler)
    try:
        return await _unit_of_work(request, handler, dbmod.reader(request.app[ENGINE]))
    except Exception as exc:
        # Only a read that met a writer, and only while nothing of its answer has left.
        if not dbmod.is_busy(exc) or request.writer.output_size:
            raise
        log.info("%s %s wrote under contention; running it again as a writer",
                 request.method, request.path)  # fmt: skip
        return await _unit_of_work(request, handler)


async def _unit_of_work(
    request: web.Request, handler: Handler, bind: AsyncEngine | None = None
) -> web.StreamResponse:
    court = request.app[COURT]
    maker = court.sessionmaker
    async with maker() if bind is None else maker(bind=bind) as session:
        ctx = court.context(session, Actor.anonymous(request.remote))
        request[CTX] = ctx
        try:
            response = await handler(request)
        except BaseException:
            # close() detaches what was loaded before rolling back, so the error page can
            # still show the logged-in user; rollback() would expire it first.
            await session.close()
            raise
        if response.status < 400:
            await session.commit()
            ctx.run_after_commit()
        else:
            await session.close()
        return response


@web.middleware
async def lang_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[LANG] = pick_lang(request.query.get("lang"), request.cookies.get(LANG_COOKIE))
    response = await handler(request)
    if "lang" in request.query and request.query["lang"] == request[LANG] and not response.prepared:
        response.set_cookie(LANG_COOKIE, request[LANG], max_age=365 * 86400, samesite="Lax")
    return response
