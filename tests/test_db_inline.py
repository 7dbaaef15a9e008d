"""``make_engine(inline=True)``: SQLite called on the event loop's own thread, as
``courtlink demo`` does (``server.db``): the same results, errors and transactions as the
threaded driver, and no worker thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from server.db import make_engine, make_sessionmaker, reader
from tests.conftest import _base_settings


async def test_inline_engine_reads_writes_and_rolls_back(tmp_path: Path) -> None:
    settings = _base_settings(tmp_path, "")
    engine = make_engine(settings, inline=True)
    threads = threading.active_count()
    try:
        maker = make_sessionmaker(engine)
        async with maker() as db, db.begin():
            await db.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
            await db.execute(text("INSERT INTO t (name) VALUES ('a'), ('b')"))
        # A constraint's error reaches the caller as the threaded driver's would, and the
        # transaction it broke leaves nothing behind.
        with pytest.raises(IntegrityError):
            async with maker() as db, db.begin():
                await db.execute(text("INSERT INTO t (name) VALUES ('c')"))
                await db.execute(text("INSERT INTO t (name) VALUES ('a')"))
        async with make_sessionmaker(reader(engine))() as db:
            names = (await db.scalars(text("SELECT name FROM t ORDER BY id"))).all()
            mode = await db.scalar(text("PRAGMA journal_mode"))
        assert names == ["a", "b"]
        assert mode == "wal"  # the same tuning as the server's engine
        assert threading.active_count() == threads  # no aiosqlite worker left running
    finally:
        await engine.dispose()
