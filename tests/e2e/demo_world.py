"""The demo as the whole-product browser checks see it (issue 14: accessibility over every page,
``make screenshots``): the real ``run_demo`` seeded into a data directory, the real app serving
it on a free port, and the few things the demo does not make, added through the product's own
operations: a drafted agreement on the mediator's live case (so the signing page and the
agreement pages have one) and a sealed recording of an ended session.

Plain functions, no pytest fixtures, so ``tests/e2e/screenshots.py`` (run outside pytest) uses
them as the tests do.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from server.agreements import drafting
from server.agreements.terms import Terms
from server.demo import run_demo
from server.docket import get_case
from server.migrate import upgrade
from server.models.accounts import User
from server.models.sessions import MediationSession
from tests.conftest import _base_settings
from tests.e2e.conftest import LiveServer, serve_sqlite
from tests.helpers import unit

PARTY_LINK = re.compile(r"^\s+(\S+): (http\S+/join/(\S+))$")
HOST_LINK = re.compile(r"log in as (\S+) / (\S+) and open (http\S+/sessions/(\d+)/join)")
PASSWORDS = {
    "admin": "demo-admin",
    "clerk": "demo-clerk",
    "judge": "demo-judge",
    "mediator": "demo-mediator",
}
STAFF = "staff.pingtan"  # the live case's street office
STAFF_PASSWORD = "demo-office_staff"


@dataclass
class Demo:
    """What the seed printed and made: the live session, its parties' link tokens, the live
    case, and what ``add_documents`` added."""

    db_file: Path
    lines: list[str]
    session_id: int = 0
    party_tokens: list[tuple[str, str]] = field(default_factory=list)  # (name, token)
    case_id: int = 0
    recorded_session_id: int = 0


def make_template(directory: Path) -> Path:
    """A migrated, empty SQLite database (what the tests' ``sqlite_template`` is)."""
    directory.mkdir(parents=True, exist_ok=True)
    upgrade(_base_settings(directory, ""))
    return directory / "courtlink.sqlite3"


def seed_demo(directory: Path, template: Path) -> Demo:
    """``run_demo`` into a copy of ``template`` in ``directory``, on its own event loop."""
    directory.mkdir(parents=True, exist_ok=True)
    db_file = directory / "courtlink.sqlite3"
    shutil.copyfile(template, db_file)
    settings = _base_settings(directory, f"sqlite+aiosqlite:///{db_file}")
    with ThreadPoolExecutor(1) as pool:
        lines = pool.submit(asyncio.run, run_demo(settings)).result()
    demo = Demo(db_file, lines)
    for line in lines:
        if m := HOST_LINK.search(line):
            demo.session_id = int(m.group(4))
        if m := PARTY_LINK.match(line):
            demo.party_tokens.append((m.group(1), m.group(3)))
    assert demo.session_id and len(demo.party_tokens) >= 2, lines
    return demo


@contextlib.asynccontextmanager
async def serve(directory: Path, demo: Demo) -> AsyncIterator[LiveServer]:
    """The real app on a copy of the seeded database in ``directory``, on a free port."""
    async with serve_sqlite(directory, _copy_db(directory, demo)) as live:
        yield live


def _copy_db(directory: Path, demo: Demo) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    db_file = directory / "courtlink.sqlite3"
    if db_file != demo.db_file:
        shutil.copyfile(demo.db_file, db_file)
    return db_file


class _AppOnly:
    """What the recording test helpers read of a test client: its app."""

    def __init__(self, app: web.Application) -> None:
        self.app = app


async def add_documents(server: LiveServer, demo: Demo) -> None:
    """The live case's agreement drafted by its mediator (the parties' links then open the
    signing page), and a sealed recording of an ended session, both through the domain."""
    from tests.recording_db import recorded_session  # media clips: imported only when used

    async with unit(server.app) as ctx:
        session = await ctx.db.get(MediationSession, demo.session_id)
        assert session is not None
        demo.case_id = session.case_id
        mediator = await ctx.db.scalar(select(User).where(User.username == "mediator"))
        assert mediator is not None
    async with unit(server.app, mediator) as ctx:
        case = await get_case(ctx, demo.case_id)
        await ctx.db.refresh(case, ["parties"])
        applicant, respondent = case.parties[0], case.parties[1]
        terms = Terms.model_validate({
            "obligations": [{"obligor_party_id": respondent.id, "obligee_party_id": applicant.id,
                             "action": "pay", "description": "借款", "amount_fen": 3_000_000,
                             "due_date": "2026-12-31", "method": "bank_transfer"}],
            "clauses": ["双方就本纠纷再无其他争议。"],
        })  # fmt: skip
        await drafting.create(ctx, case, terms, session_id=demo.session_id)
    _case, demo.recorded_session_id = await recorded_session(_AppOnly(server.app))  # type: ignore[arg-type]
