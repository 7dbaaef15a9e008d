"""The request's unit of work: one database session and one ``Context`` per request, and the
language it is answered in.

The context is built here and only here, from the app's ``Court``; the auth middleware then
names its actor. The session commits when the handler succeeds (after-commit hooks run only
then) and rolls back when it fails, so an error never leaves anything half-written.
"""

from __future__ import annotations

from aiohttp import web

from server.context import Actor
from server.i18n import LANG_COOKIE, pick_lang
from server.web.keys import COURT, CTX, LANG, Handler

STATIC_PREFIX = "/static/"


@web.middleware
async def context_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(STATIC_PREFIX):
        return await handler(request)
    court = request.app[COURT]
    async with court.sessionmaker() as session:
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
