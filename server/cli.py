"""The ``courtlink`` command line: serve, migrate, demo, user add, calendar, and the
subcommands subsystems add themselves (recordings, agreements, audit)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import logging
import sys
from collections.abc import Callable
from datetime import date

from server.settings import Settings

Command = Callable[[argparse.Namespace, Settings], int]
_REGISTRARS: list[Callable[[argparse._SubParsersAction], None]] = []  # type: ignore[type-arg]


def register(fn: Callable[[argparse._SubParsersAction], None]) -> None:  # type: ignore[type-arg]
    """Let a subsystem add its own subcommands (``recordings``, ``agreements``...)."""
    _REGISTRARS.append(fn)


def _cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from server.migrate import upgrade

    upgrade(settings)
    print("database is up to date")
    return 0


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from server import eventloop
    from server.app import create_app
    from server.cluster import ClusterConfigError, check_cluster_database
    from server.migrate import upgrade
    from server.web.accesslog import RedactingAccessLogger

    host = args.host or settings.host
    port = args.port or settings.port
    # The flags win over the settings everywhere, a cluster node's id and address included.
    settings = settings.model_copy(update={"host": host, "port": port})
    try:
        check_cluster_database(settings)
    except ClusterConfigError as exc:
        print(f"courtlink serve: {exc}", file=sys.stderr)
        return 2
    upgrade(settings)
    print(f"courtlink serving on http://{host}:{port}", flush=True)
    app = create_app(settings, serving=True)
    web.run_app(
        app,
        host=host,
        port=port,
        print=None,
        loop=eventloop.new_event_loop(),
        access_log_class=RedactingAccessLogger,  # invite and feed tokens never reach the log
    )
    return 0


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from server.demo import run_demo
    from server.migrate import upgrade

    upgrade(settings)
    for line in asyncio.run(run_demo(settings, own_process=True)):
        print(line)
    return 0


def _cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    from server.accounts import add_user_cli
    from server.migrate import upgrade

    upgrade(settings)
    password = args.password or getpass.getpass("password: ")
    return asyncio.run(
        add_user_cli(
            settings,
            args.username,
            args.name or args.username,
            args.role,
            args.office,
            password,
            args.email,
        )
    )


def _cmd_calendar_recompute(args: argparse.Namespace, settings: Settings) -> int:
    from server.context import Actor, Court
    from server.db import make_engine, make_sessionmaker
    from server.docket import recompute_deadlines
    from server.migrate import upgrade

    upgrade(settings)

    async def go() -> int:
        engine = make_engine(settings)
        try:
            court = Court.build(settings, make_sessionmaker(engine))
            async with court.unit(Actor.system("cli")) as ctx:
                changed = await recompute_deadlines(ctx)
                today = ctx.today()
                years = ctx.calendar.provisional_years([today.year, today.year + 1])
        finally:
            await engine.dispose()
        for c in changed:
            mark = " (provisional)" if c.provisional else ""
            print(f"case {c.number or c.case_id}: deadline {c.old} -> {c.new}{mark}")
        print(f"{len(changed)} open fast-track deadline(s) recomputed")
        if years:
            print("still provisional: " + ", ".join(map(str, years)))
        return 0

    return asyncio.run(go())


def _today_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--today",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="run as of this day, at the real time of day (default COURTLINK_TODAY, else today)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="courtlink", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="apply migrations, then serve HTTP, WebSocket and media")
    p.add_argument("--host", help="address to bind (default COURTLINK_HOST)")
    p.add_argument("--port", type=int, help="port to bind (default COURTLINK_PORT)")
    _today_option(p)
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("migrate", help="apply database migrations")
    p.set_defaults(func=_cmd_migrate)

    p = sub.add_parser("demo", help="seed offices, one user per role and sample cases (idempotent)")
    _today_option(p)
    p.set_defaults(func=_cmd_demo)

    user = sub.add_parser("user", help="manage users").add_subparsers(
        dest="user_cmd", required=True
    )
    p = user.add_parser("add", help="add a user")
    p.add_argument("username")
    p.add_argument(
        "--role", required=True, choices=["judge", "mediator", "clerk", "office_staff", "admin"]
    )
    p.add_argument("--office", required=True, help="office code, e.g. center or shaping")
    p.add_argument("--name", help="display name")
    p.add_argument("--email")
    p.add_argument("--password", help="password (prompted when omitted)")
    p.set_defaults(func=_cmd_user_add)

    calendar = sub.add_parser("calendar", help="the working calendar").add_subparsers(
        dest="calendar_cmd", required=True
    )
    p = calendar.add_parser(
        "recompute",
        help="recount open provisional fast-track deadlines on the current calendar (audited)",
    )
    p.set_defaults(func=_cmd_calendar_recompute)

    for registrar in _REGISTRARS:
        registrar(sub)
    return parser


# The subsystems' commands, by the command line's first word. A command loads only its own
# subsystem (``courtlink user add`` need not import PyAV, Redis or the audit log's verifier:
# an operator's command starts sooner, and the tests start a hundred of them); help, or a
# word this table does not know, loads them all, so help lists every command and a new
# command works before it is listed here (tests/test_cli.py holds the table to the parser).
CORE = ("serve", "migrate", "demo", "user", "calendar")
SUBSYSTEMS = {
    "recordings": "recordings.cli",
    "agreements": "server.agreements_cli",
    "audit": "server.audit.cli",
    "nodes": "server.cluster.cli",
    "drain": "server.cluster.cli",
}


def _subsystems_for(argv: list[str]) -> list[str]:
    word = next((arg for arg in argv if not arg.startswith("-")), None)
    if word in CORE:
        return []
    if word in SUBSYSTEMS:
        return [SUBSYSTEMS[word]]
    return list(dict.fromkeys(SUBSYSTEMS.values()))


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if argv is None:
        argv = sys.argv[1:]
    for module in _subsystems_for(argv):
        try:
            __import__(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    args = build_parser().parse_args(argv)
    func: Command = args.func
    settings = Settings()
    if getattr(args, "today", None) is not None:
        settings = settings.model_copy(update={"today": args.today})
    return func(args, settings)


if __name__ == "__main__":
    # Run as ``python -m server.cli``: subsystems register with the importable
    # ``server.cli``, not with this ``__main__`` copy of it, so run that one's ``main``.
    sys.exit(importlib.import_module("server.cli").main())
