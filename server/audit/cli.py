"""``courtlink audit``: verify the log, sign a checkpoint to keep, print the public key.

``verify`` first chains what is waiting, as the server's sequencer would (only one pass runs
at a time across a cluster, so it is safe beside running servers; ``--no-chain`` checks
without writing anything), then walks the chain and every checkpoint, stored or kept by the
auditor, and exits 1 naming the first bad row.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from server.audit.chain import chain_all, chain_head
from server.audit.checkpoints import Checkpoint, latest, public_pem, store
from server.audit.verify import verify_chain
from server.cli import register
from server.context import Court
from server.db import make_engine, make_sessionmaker
from server.settings import Settings


async def _with_court(settings: Settings, work: Callable[[Court], Awaitable[int]]) -> int:
    engine = make_engine(settings)
    try:
        return await work(Court.build(settings, make_sessionmaker(engine)))
    finally:
        await engine.dispose()


def _cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    try:
        kept = [Checkpoint.from_json(Path(f).read_text()) for f in args.checkpoint]
    except (OSError, ValueError, KeyError) as exc:
        print(f"cannot read checkpoint: {exc}")
        return 2

    async def go(court: Court) -> int:
        if not args.no_chain:
            await chain_all(court)
        async with court.sessionmaker() as db:
            report = await verify_chain(db, settings, kept)
        waiting = f", {report.pending} waiting to be chained" if report.pending else ""
        if report.ok:
            print(
                f"audit log intact: {report.rows} rows, {report.checkpoints} checkpoints{waiting}"
            )
            return 0
        where = f"at row {report.first_bad_row}" if report.first_bad_row else "checkpoints"
        print(f"audit log BROKEN {where}: {report.reason}")
        return 1

    return asyncio.run(_with_court(settings, go))


def _cmd_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    async def go(court: Court) -> int:
        await chain_all(court)
        async with court.sessionmaker() as db, db.begin():
            head = await chain_head(db)
            last = await latest(db)
            if last is not None and last.size == head.size:
                point = Checkpoint.from_row(last)  # nothing new since: that one is the head
            else:
                point = await store(db, settings, head.size, head.hash, court.clock())
        print(point.to_json())
        return 0

    return asyncio.run(_with_court(settings, go))


def _cmd_pubkey(args: argparse.Namespace, settings: Settings) -> int:
    print(public_pem(settings), end="")
    return 0


def _register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    audit = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_cmd", required=True
    )
    p = audit.add_parser(
        "verify", help="check the hash chain and checkpoints; exit 1 naming the first bad row"
    )
    p.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="FILE",
        help="a checkpoint kept from `courtlink audit checkpoint` (repeatable)",
    )
    p.add_argument("--no-chain", action="store_true", help="check only; chain nothing first")
    p.set_defaults(func=_cmd_verify)
    p = audit.add_parser(
        "checkpoint", help="chain what waits, sign the head and print it as JSON to keep"
    )
    p.set_defaults(func=_cmd_checkpoint)
    p = audit.add_parser("pubkey", help="print the public key checkpoints are signed with")
    p.set_defaults(func=_cmd_pubkey)


register(_register)
