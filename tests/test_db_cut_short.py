"""A unit of work cancelled while its statement runs on SQLite (a worker stopped as the
server stops, a request whose client went away) lets go of SQLite's write lock as its task
ends, not when the garbage collector finds what the cancel left (``server.db``).

The statement here waits inside SQLite, in a function of the test's, until the test has
cancelled its task: the cancel lands mid-statement every time, with nothing timed."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from server.db import make_engine, make_sessionmaker
from tests.conftest import _base_settings


def _lock_is_free(path: str) -> bool:
    """Whether another connection can take the write lock at once (no busy wait)."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


async def test_a_statement_cut_short_leaves_no_lock(tmp_path: Path) -> None:
    settings = _base_settings(tmp_path, "")
    engine = make_engine(settings)
    path = settings.effective_database_url.split("///", 1)[1]
    entered, release = threading.Event(), threading.Event()

    def hold() -> int:
        entered.set()
        release.wait(30)
        return 1

    @event.listens_for(engine.sync_engine, "connect")
    def _with_hold(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.run_async(lambda raw: raw.create_function("hold", 0, hold))

    maker = make_sessionmaker(engine)
    async with maker() as db, db.begin():
        await db.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))

    async def unit() -> None:
        async with maker() as db, db.begin():  # BEGIN IMMEDIATE: the write lock, held
            await db.execute(text("INSERT INTO t DEFAULT VALUES"))
            await db.execute(text("SELECT hold()"))

    gc.disable()  # what the cancel leaves must not depend on a collection's timing
    try:
        task = asyncio.ensure_future(unit())
        await asyncio.to_thread(entered.wait, 30)
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert _lock_is_free(path), "a cancelled unit of work left SQLite's write lock held"
        async with maker() as db, db.begin():  # and the engine goes on writing
            await db.execute(text("INSERT INTO t DEFAULT VALUES"))
            assert await db.scalar(text("SELECT count(*) FROM t")) == 1
    finally:
        gc.enable()
        release.set()
        await engine.dispose()
