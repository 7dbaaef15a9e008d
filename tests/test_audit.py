"""The audit log: rows chain by hash, ``courtlink audit verify`` finds the first edited or
deleted row (the command itself, on SQLite and on PostgreSQL), and concurrent appends still
make one intact chain."""

from __future__ import annotations

import asyncio
import os
import sys

from sqlalchemy import delete, select, update

from server.audit import GENESIS, _digest, record, verify_chain
from server.context import Actor, Court
from server.db import make_engine, make_sessionmaker
from server.models.audit import AuditEntry


async def _append(settings, n: int) -> None:
    engine = make_engine(settings)
    try:
        court = Court.build(settings, make_sessionmaker(engine))
        async with court.unit(Actor.system("test")) as ctx:
            for i in range(n):
                await record(ctx, "case.update", "case", i + 1, note=f"第{i + 1}次")
    finally:
        await engine.dispose()


async def _run(settings, stmt) -> None:
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine).begin() as db:
            await db.execute(stmt)
    finally:
        await engine.dispose()


async def _verify(settings) -> tuple[int, str]:
    """``courtlink audit verify`` as a process, on the test's database (SQLite or PostgreSQL)."""
    env = {
        **os.environ,
        "COURTLINK_DATA_DIR": str(settings.data_dir),
        "COURTLINK_DATABASE_URL": settings.effective_database_url,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "audit", "verify",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


async def test_record_chains_each_row_to_the_one_before(settings):
    await _append(settings, 3)
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as db:
            rows = (await db.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
            assert [r.id for r in rows] == [1, 2, 3]
            assert rows[0].prev_hash == GENESIS
            assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
            assert all(_digest(r) == r.hash for r in rows)
            assert rows[2].detail == {"note": "第3次"} and rows[2].actor == "test"
            report = await verify_chain(db)
            assert report.ok and report.rows == 3
    finally:
        await engine.dispose()


async def test_verify_passes_an_intact_log(settings):
    await _append(settings, 4)
    code, out = await _verify(settings)
    assert code == 0, out
    assert "intact: 4 rows" in out


async def test_verify_names_the_row_whose_detail_was_edited(settings):
    await _append(settings, 4)
    await _run(settings, update(AuditEntry).where(AuditEntry.id == 2).values(detail={"x": 1}))
    code, out = await _verify(settings)
    assert code == 1
    assert "BROKEN at row 2" in out and "hash" in out


async def test_verify_names_the_gap_left_by_a_deleted_middle_row(settings):
    await _append(settings, 4)
    await _run(settings, delete(AuditEntry).where(AuditEntry.id == 3))
    code, out = await _verify(settings)
    assert code == 1
    assert "BROKEN at row 3" in out and "missing" in out


async def test_a_rehashed_forgery_breaks_the_next_link(settings):
    """Someone who edits a row and recomputes its hash still breaks the row after it."""
    await _append(settings, 4)
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine).begin() as db:
            row = await db.get(AuditEntry, 2)
            assert row is not None
            row.detail = {"note": "改过"}
            row.hash = _digest(row)
    finally:
        await engine.dispose()
    code, out = await _verify(settings)
    assert code == 1
    assert "BROKEN at row 3" in out and "link" in out


async def test_twenty_concurrent_appends_make_one_intact_chain(settings):
    """Twenty transactions, each on its own connection, append at once (PostgreSQL: the
    advisory lock; SQLite: BEGIN IMMEDIATE)."""
    engine = make_engine(settings)
    maker = make_sessionmaker(engine)
    court = Court.build(settings, maker)

    async def one(i: int) -> None:
        async with court.unit(Actor.system(f"client-{i}")) as ctx:
            await record(ctx, "booking.create", "booking", i)

    try:
        await asyncio.gather(*(one(i) for i in range(20)))
        async with maker() as db:
            report = await verify_chain(db)
            actors = set((await db.scalars(select(AuditEntry.actor))).all())
    finally:
        await engine.dispose()
    assert report.ok and report.rows == 20, report
    assert actors == {f"client-{i}" for i in range(20)}
