"""The application factory: settings in, a wired aiohttp application out.

Lifetimes (engine, background workers, the signaling hub) are ``cleanup_ctx`` entries; each
subsystem registers its own routes through a ``setup(app)`` function listed in ``_SUBSYSTEMS``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import jinja2
from aiohttp import web

from server import db as dbmod
from server import formatting
from server.appkeys import (
    CALENDAR,
    CATALOGS,
    DB,
    ENGINE,
    EXTRAS,
    JINJA,
    LANG,
    SESSIONMAKER,
    SETTINGS,
)
from server.auth import STATIC_PREFIX, auth_middleware
from server.errors import Handler, error_middleware
from server.i18n import LANG_COOKIE, Catalogs, request_lang
from server.settings import Settings
from server.workdays import WorkCalendar

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent.parent / "web"

# Each entry is a module with ``setup(app: web.Application) -> None`` adding its routes,
# cleanup contexts and AppKeys. Order matters only for route precedence.
_SUBSYSTEMS = (
    "server.health",
    "server.api.openapi",
    "server.api.auth_api",
    "server.pages.auth_pages",
    "server.api.users",
    "server.api.reports",
    "server.pages.report_pages",
    "server.api.cases",
    "server.api.intake",
    "server.pages.intake_pages",
    "server.pages.docket_pages",
    "server.pages.case_pages",
    "server.scheduling",
    "server.api.sessions",
    "server.pages.session_pages",
    "signaling",
    "recordings",
    "server.api.agreements",
    "server.api.agreement_verify",
    "server.pages.agreement_pages",
    "server.api.agreement_templates",
)


@web.middleware
async def db_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One database session per request: committed when the handler succeeds, rolled back
    when it raises, so an error never leaves anything half-written."""
    if request.path.startswith(STATIC_PREFIX):
        return await handler(request)
    async with request.app[SESSIONMAKER]() as session:
        request[DB] = session
        try:
            response = await handler(request)
        except BaseException:
            # close() detaches what was loaded before rolling back, so the error page can
            # still show the logged-in user; rollback() would expire it first.
            await session.close()
            raise
        if response.status < 400:
            await session.commit()
        else:
            await session.close()
        return response


@web.middleware
async def lang_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[LANG] = request_lang(request)
    response = await handler(request)
    if "lang" in request.query and request.query["lang"] == request[LANG] and not response.prepared:
        response.set_cookie(LANG_COOKIE, request[LANG], max_age=365 * 86400, samesite="Lax")
    return response


async def _database_ctx(app: web.Application) -> AsyncIterator[None]:
    engine = dbmod.make_engine(app[SETTINGS])
    app[ENGINE] = engine
    app[SESSIONMAKER] = dbmod.make_sessionmaker(engine)
    yield
    await engine.dispose()


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    settings.ensure_dirs()
    app = web.Application(
        middlewares=[error_middleware, lang_middleware, db_middleware, auth_middleware],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[CATALOGS] = Catalogs()
    app[CALENDAR] = WorkCalendar(settings.calendar_dir or settings.data_dir / "calendar")
    app[EXTRAS] = {}
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(WEB_DIR / "templates")),
        autoescape=jinja2.select_autoescape(["html", "xml", "svg"]),
        undefined=jinja2.StrictUndefined,
    )
    formatting.install_filters(env)
    app[JINJA] = env
    app.cleanup_ctx.append(_database_ctx)
    app.router.add_static("/static", WEB_DIR / "static", name="static")
    for name in _SUBSYSTEMS:
        importlib.import_module(name).setup(app)
    return app
