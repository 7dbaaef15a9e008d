"""``courtlink recordings verify [SESSION]`` and ``courtlink recordings purge [--dry-run]``.

``verify`` exits 1 naming every file that is missing, altered, unlisted, unplayable or empty
or decodes another number of frames than its segment says, and every manifest whose signature
fails; ``purge`` lists (``--dry-run``) or deletes the recordings whose
retention period has run out, skipping those under legal hold, and with them the documents
of those cases' files (电子卷宗, ``server.docket.documents``), which follow the same period.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from recordings import retention, verify
from server.cli import register
from server.context import Actor, Context, Court
from server.docket import documents
from server.models.docket import Case
from server.settings import Settings

T = TypeVar("T")


def _in_unit(settings: Settings, actor: Actor, fn: Callable[[Context], Awaitable[T]]) -> T:
    """Run ``fn`` in one unit of work as ``actor``, the way the server's workers do."""
    from server.db import make_engine, make_sessionmaker

    async def go() -> T:
        engine = make_engine(settings)
        try:
            async with Court.build(settings, make_sessionmaker(engine)).unit(actor) as ctx:
                return await fn(ctx)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    async def go(ctx: Context) -> int:
        db = ctx.db
        recs = await verify.sealed_recordings(db, args.session)
        if args.session is not None and not recs:
            print(f"session {args.session}: no recording")
            return 1
        bad = 0
        for rec in recs:
            if rec.sealed_at is None and rec.session.status in ("scheduled", "open"):
                # Sealed when it ends; a live session is not a failed record.
                print(f"session {rec.session_id}: live, not sealed yet")
                continue
            report = await verify.verify_session(db, settings, rec)
            if report.ok:
                empty = f", {report.empty} segment(s) with no media" if report.empty else ""
                print(
                    f"session {rec.session_id}: OK ({report.files} files decode, "
                    f"signature valid{empty})"
                )
                continue
            bad += 1
            print(f"session {rec.session_id}: FAILED")
            for problem in report.problems:
                print(f"  {problem}")
        print(f"{len(recs)} recording(s) checked, {bad} failed")
        return 1 if bad else 0

    return _in_unit(settings, Actor.system("cli"), go)


def _cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    async def go(ctx: Context) -> int:
        if args.dry_run:
            found = await retention.candidates(ctx)
            verb = "would delete"
        else:
            found = await retention.purge(ctx)
            verb = "deleted"
        for cand in found:
            rec = cand.recording
            if cand.held:
                print(f"session {rec.session_id}: kept, legal hold ({rec.hold_reason})")
                continue
            print(
                f"session {rec.session_id} case {cand.case.number or cand.case.id}: {verb} "
                f"{len(cand.files)} file(s), {cand.bytes} bytes "
                f"(outcome {cand.outcome}, expired {cand.expires_at:%Y-%m-%d})"
            )
            for rel in cand.files:
                print(f"  {rel}")

        # The case file (电子卷宗) follows its case's period, as the recordings do.
        def days_for(case: Case) -> int | None:
            return retention.retention_days(settings, retention.outcome_of(case))

        if args.dry_run:
            files = await documents.expired(ctx, days_for)
        else:
            files = await documents.purge(ctx, days_for)
        for item in files:
            print(
                f"case {item.case.number or item.case.id}: {verb} document {item.doc.id} "
                f"({item.doc.filename}, {item.doc.size} bytes, expired {item.expires_at:%Y-%m-%d})"
            )
        if not found and not files:
            print("nothing to purge")
        return 0

    return _in_unit(settings, Actor.system("cli:purge"), go)


def _register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("recordings", help="session recordings").add_subparsers(
        dest="recordings_cmd", required=True
    )
    p = group.add_parser(
        "verify",
        help="re-hash and decode files, check manifest signatures; exit 1 naming each problem",
    )
    p.add_argument("session", nargs="?", type=int, help="session id (default: all)")
    p.set_defaults(func=_cmd_verify)
    p = group.add_parser("purge", help="delete recordings past their retention period")
    p.add_argument("--dry-run", action="store_true", help="only show what would be deleted")
    p.set_defaults(func=_cmd_purge)


register(_register)
