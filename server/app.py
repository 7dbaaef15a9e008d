"""The application factory: settings in, a wired aiohttp application out.

It builds the ``Court`` (database, calendar, clock, signals) every unit of work is made from,
adds the one route table (``server.routes``), and runs the long-lived parts as ``cleanup_ctx``
entries: the database engine, the background workers under one supervisor
(``server.tasks``), and the live-session media and recording services (``server.live``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import jinja2
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from server import access, audit, docket, formatting, live, routes
from server import db as dbmod
from server.audit.chain import Sequencer
from server.cluster import check_cluster_database
from server.context import Actor, Court
from server.i18n import Catalogs
from server.mailbox import CaseMailbox
from server.scheduling.sender import OutboxSender
from server.settings import Settings
from server.tasks import Supervisor
from server.web import bridge, desk_socket, node
from server.web.auth import auth_middleware
from server.web.context import context_middleware, lang_middleware
from server.web.errors import error_middleware
from server.web.keys import (
    CALENDAR,
    CATALOGS,
    COURT,
    ENGINE,
    JINJA,
    MAILBOX,
    SENDER,
    SESSIONMAKER,
    SETTINGS,
    SUPERVISOR,
)
from server.web.security import add_security_headers

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent.parent / "web"


async def _database_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[ENGINE].dispose()


async def _workers_ctx(app: web.Application) -> AsyncIterator[None]:
    supervisor = app[SUPERVISOR]
    sender = app[SENDER]
    court = app[COURT]
    court.signals.register("outbox", sender.wake)
    if sender.autostart:
        supervisor.start("outbox-sender", lambda: sender.run(court.sessionmaker))
    sequencer = Sequencer(court)
    court.signals.register(audit.SIGNAL, sequencer.wake)
    supervisor.start("audit-sequencer", sequencer.run)
    yield
    court.signals.unregister("outbox")
    court.signals.unregister(audit.SIGNAL)
    await supervisor.stop()
    await sequencer.finish()


async def _mailbox_ctx(app: web.Application) -> AsyncIterator[None]:
    mailbox = app[MAILBOX]
    if mailbox is not None:
        await mailbox.start()
    yield
    if mailbox is not None:
        await mailbox.stop()


async def _recompute_deadlines(app: web.Application) -> None:
    # A year whose calendar became official since the last start (a newer chinesecalendar, an
    # admin's year file) recounts the provisional deadlines before the first request.
    court = app[COURT]
    try:
        async with court.unit(Actor.system("calendar")) as ctx:
            changed = await docket.recompute_deadlines(ctx)
    except SQLAlchemyError:  # a database not migrated yet has nothing to recount
        log.warning("provisional deadlines not recomputed at start", exc_info=True)
        return
    if changed:
        log.info("recomputed %d provisional fast-track deadline(s)", len(changed))


async def _prepare_fonts(app: web.Application) -> None:
    # The font every sealed PDF embeds takes half a minute to make the first time: a child
    # process makes it while the server already serves, and only a document sealed before
    # it is ready waits for it (server.agreements.fonts).
    from server.agreements import fonts

    cache_dir = app[SETTINGS].data_dir / "fonts"
    app[SUPERVISOR].start("document-fonts", lambda: fonts.prepare_aside(cache_dir), once=True)


async def _freeze_startup_objects(app: web.Application) -> None:
    # A full collection (the SFU runs one after participants leave) then takes milliseconds
    # instead of ~55 ms: see signaling/sfu/trim.py.
    from signaling.sfu.trim import freeze_long_lived

    freeze_long_lived()


class _SharedTemplateCode(jinja2.BytecodeCache):
    """The pages' compiled templates, kept for every app the process builds (tests build
    hundreds, each compiling the same templates again). Keyed by name and the source's
    checksum, so an edited template is compiled afresh."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_TEMPLATE_CODE = _SharedTemplateCode()


def create_app(settings: Settings | None = None, *, serving: bool = False) -> web.Application:
    """The app for ``settings``; ``serving`` is set by ``courtlink serve`` (a long-lived
    process), which also freezes its start-up objects out of the garbage collector's way and
    makes the document fonts aside when they are missing."""
    settings = settings or Settings()
    check_cluster_database(settings)
    settings.ensure_dirs()
    app = web.Application(
        middlewares=[error_middleware, lang_middleware, context_middleware, auth_middleware],
        client_max_size=settings.max_body_bytes,
    )
    engine = dbmod.make_engine(settings)
    court = Court.build(settings, dbmod.make_sessionmaker(engine))
    app[SETTINGS] = settings
    app[ENGINE] = engine
    app[SESSIONMAKER] = court.sessionmaker
    app[COURT] = court
    app[CALENDAR] = court.calendar
    app[CATALOGS] = Catalogs()
    app[SUPERVISOR] = Supervisor()
    app[SENDER] = OutboxSender(court)
    app[MAILBOX] = CaseMailbox(court) if settings.mailbox_port else None
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(WEB_DIR / "templates")),
        autoescape=jinja2.select_autoescape(["html", "xml", "svg"]),
        undefined=jinja2.StrictUndefined,
        bytecode_cache=_TEMPLATE_CODE,
    )
    formatting.install_filters(env)
    # Templates show a link or a control by the same named rules the handlers enforce.
    env.globals["access"] = access
    app[JINJA] = env
    # First, so that a node that cannot join its cluster stops before anything has started.
    app.cleanup_ctx.append(node.node_ctx)
    app.cleanup_ctx.append(_database_ctx)
    app.on_startup.append(_recompute_deadlines)
    app.cleanup_ctx.append(_workers_ctx)
    # The case mailbox files into the database and wakes the audit sequencer: it starts
    # after the workers and stops before them.
    app.cleanup_ctx.append(_mailbox_ctx)
    # After the workers: cleanup runs in reverse, so the live rooms and the recorder stop
    # first, then the supervisor's workers, then the database.
    app.cleanup_ctx.append(live.live_ctx)
    # A cluster node's rooms and sockets across nodes (nothing on a single server).
    app.cleanup_ctx.append(bridge.bridge_ctx)
    # The duty desk's ringing (``/ws/desk``), after the workers it runs beside.
    app.cleanup_ctx.append(desk_socket.desk_ctx)
    # Sessions' sockets never end by themselves: they are sent away before aiohttp waits for
    # the requests in progress (see ``live.going_away``).
    # A cluster node leaves the registry first, so no room is placed on it while it stops.
    app.on_shutdown.append(node.leave)
    app.on_shutdown.append(bridge.going_away)
    app.on_shutdown.append(live.going_away)
    app.on_shutdown.append(desk_socket.going_away)
    routes.add_routes(app, WEB_DIR / "static")
    # CSP, framing, nosniff, referrer policy on every response (static files and errors too).
    app.on_response_prepare.append(add_security_headers)
    if serving:
        app.on_startup.append(_prepare_fonts)
        app.on_startup.append(_freeze_startup_objects)
    return app
