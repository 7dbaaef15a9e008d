"""The audit log: rows are written unchained in their own transaction, the sequencer chains
them after commit, signed checkpoints pin the head, and ``courtlink audit verify`` (the
command itself, on SQLite and on PostgreSQL) names the first row that was edited, deleted,
reordered or inserted, and a kept checkpoint catches a log rewritten after it."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, select, update

from server.audit import chain as chain_module
from server.audit import record
from server.audit.chain import BATCH, GENESIS, Sequencer, chain_all, chain_pending, digest
from server.audit.checkpoints import Checkpoint
from server.audit.verify import verify_chain
from server.context import Actor, Court
from server.db import make_engine, make_sessionmaker
from server.models.audit import AuditCheckpoint, AuditEntry
from tests.docket_helpers import court_admin, new_case
from tests.kill_helpers import courtlink_environ


async def _append(settings, n: int, *, chain: bool = True) -> None:
    engine = make_engine(settings)
    try:
        court = Court.build(settings, make_sessionmaker(engine))
        async with court.unit(Actor.system("test")) as ctx:
            for i in range(n):
                await record(ctx, "case.update", "case", i + 1, note=f"第{i + 1}次")
        if chain:
            await chain_all(court)
    finally:
        await engine.dispose()


async def _run(settings, *stmts) -> None:
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine).begin() as db:
            for stmt in stmts:
                await db.execute(stmt)
    finally:
        await engine.dispose()


async def _cli(settings, *args: str) -> tuple[int, str]:
    """``courtlink audit ...`` as a process, on the test's database (SQLite or PostgreSQL)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "audit", *args,
        env=courtlink_environ(settings),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


async def _verify(settings, *args: str) -> tuple[int, str]:
    return await _cli(settings, "verify", *args)


async def _rows(settings) -> list[AuditEntry]:
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as db:
            return list((await db.scalars(select(AuditEntry).order_by(AuditEntry.id))).all())
    finally:
        await engine.dispose()


async def test_a_row_waits_unchained_until_the_sequencer_chains_it(settings):
    await _append(settings, 3, chain=False)
    rows = await _rows(settings)
    assert [(r.seq, r.hash) for r in rows] == [(None, None)] * 3
    await _append(settings, 0)  # one sequencer pass
    rows = await _rows(settings)
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == GENESIS
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert all(digest(r, r.prev_hash or "") == r.hash for r in rows)
    assert all(r.chained_at and r.written_at and r.chained_at >= r.written_at for r in rows)
    assert rows[2].detail == {"note": "第3次"} and rows[2].actor == "test"


async def test_verify_passes_an_intact_log_and_chains_what_waits(settings):
    await _append(settings, 4, chain=False)
    code, out = await _verify(settings, "--no-chain")
    assert code == 0, out
    assert "intact: 0 rows" in out and "4 waiting" in out
    code, out = await _verify(settings)
    assert code == 0, out
    assert "intact: 4 rows, 1 checkpoints" in out and "waiting" not in out


async def test_verify_names_the_row_whose_detail_was_edited(settings):
    await _append(settings, 4)
    await _run(settings, update(AuditEntry).where(AuditEntry.seq == 2).values(detail={"x": 1}))
    code, out = await _verify(settings)
    assert code == 1
    assert "BROKEN at row 2" in out and "hash" in out


async def test_verify_names_the_gap_left_by_a_deleted_middle_row(settings):
    await _append(settings, 4)
    await _run(settings, delete(AuditEntry).where(AuditEntry.seq == 3))
    code, out = await _verify(settings)
    assert code == 1
    assert "BROKEN at row 3" in out and "missing" in out


async def test_verify_names_rows_swapped_in_order(settings):
    await _append(settings, 4)
    swap = update(AuditEntry).where(AuditEntry.seq == 2).values(seq=-2)
    await _run(
        settings,
        swap,
        update(AuditEntry).where(AuditEntry.seq == 3).values(seq=2),
        update(AuditEntry).where(AuditEntry.seq == -2).values(seq=3),
    )
    code, out = await _verify(settings)
    assert code == 1
    assert "BROKEN at row 2" in out and "link" in out


async def test_a_rehashed_forgery_breaks_the_next_link(settings):
    """Someone who edits a row and recomputes its hash still breaks the row after it."""
    await _append(settings, 4)
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine).begin() as db:
            row = await db.scalar(select(AuditEntry).where(AuditEntry.seq == 2))
            assert row is not None
            row.detail = {"note": "改过"}
            row.hash = digest(row, row.prev_hash or "")
    finally:
        await engine.dispose()
    code, out = await _verify(settings)
    assert code == 1
    assert "BROKEN at row 3" in out and "link" in out


async def _rechain_from(settings, start: int) -> None:
    """A forger with the database: recompute every hash from ``start`` on, so the chain
    itself is consistent again; only a checkpoint can tell."""
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine).begin() as db:
            rows = (
                await db.scalars(
                    select(AuditEntry).where(AuditEntry.seq >= start).order_by(AuditEntry.seq)
                )
            ).all()
            prev = await db.scalar(select(AuditEntry.hash).where(AuditEntry.seq == start - 1))
            for row in rows:
                row.prev_hash = prev
                row.hash = prev = digest(row, prev or GENESIS)
    finally:
        await engine.dispose()


async def test_a_row_inserted_and_the_chain_rehashed_is_caught_by_a_checkpoint(settings):
    await _append(settings, 4)  # the pass signs a checkpoint over rows 1-4
    await _run(
        settings,
        update(AuditEntry).where(AuditEntry.seq >= 3).values(seq=AuditEntry.seq + 100),
    )
    await _run(
        settings,
        update(AuditEntry).where(AuditEntry.seq >= 103).values(seq=AuditEntry.seq - 99),
    )
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine).begin() as db:
            forged = AuditEntry(
                at=(await _rows(settings))[0].at, actor="user:1", action="case.update",
                object_type="case", object_id="9", detail={}, seq=3,
            )  # fmt: skip
            db.add(forged)
    finally:
        await engine.dispose()
    await _rechain_from(settings, 3)
    code, out = await _verify(settings, "--no-chain")
    assert code == 1, out
    assert "BROKEN at row 1" in out and "rows 1 to 4 were rewritten" in out


async def test_rows_cut_off_the_end_are_caught_by_a_checkpoint(settings):
    await _append(settings, 4)
    await _run(settings, delete(AuditEntry).where(AuditEntry.seq == 4))
    code, out = await _verify(settings, "--no-chain")
    assert code == 1
    assert "BROKEN at row 4" in out and "missing" in out and "covers 4 rows" in out


async def test_a_kept_checkpoint_catches_a_rewrite_whose_stored_checkpoints_were_deleted(
    settings, tmp_path: Path
):
    await _append(settings, 3)
    code, out = await _cli(settings, "checkpoint")
    assert code == 0, out
    kept = tmp_path / "kept.json"
    kept.write_text(out.strip().splitlines()[-1])
    assert json.loads(kept.read_text())["size"] == 3
    await _run(
        settings,
        update(AuditEntry).where(AuditEntry.seq == 2).values(detail={"note": "改过"}),
        delete(AuditCheckpoint),
    )
    await _rechain_from(settings, 2)
    code, out = await _verify(settings, "--no-chain")
    assert code == 0, out  # without the kept checkpoint, the forgery is consistent
    code, out = await _verify(settings, "--no-chain", "--checkpoint", str(kept))
    assert code == 1, out
    assert "BROKEN at row 1" in out and "rewritten" in out


async def test_a_checkpoint_not_signed_by_the_court_fails_verify(settings, tmp_path: Path):
    await _append(settings, 2)
    code, out = await _cli(settings, "checkpoint")
    point = Checkpoint.from_json(out.strip().splitlines()[-1])
    forged = Checkpoint(point.size, "f" * 64, point.at, point.key_id, point.signature)
    kept = tmp_path / "forged.json"
    kept.write_text(forged.to_json())
    code, out = await _verify(settings, "--checkpoint", str(kept))
    assert code == 1, out
    assert "not signed by this court" in out


async def test_pubkey_verifies_the_checkpoints_signature(settings):
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    await _append(settings, 2)
    _, out = await _cli(settings, "checkpoint")
    point = Checkpoint.from_json(out.strip().splitlines()[-1])
    code, pem = await _cli(settings, "pubkey")
    assert code == 0
    public = load_pem_public_key(pem.encode())
    assert point.signed_by(public)  # type: ignore[arg-type]


async def test_twenty_concurrent_appends_take_no_lock_and_chain_intact(settings):
    """Twenty transactions, each on its own connection, append at once; nothing serializes
    them but the database's own row inserts, and the sequencer chains all twenty."""
    engine = make_engine(settings)
    maker = make_sessionmaker(engine)
    court = Court.build(settings, maker)

    async def one(i: int) -> None:
        async with court.unit(Actor.system(f"client-{i}")) as ctx:
            await record(ctx, "booking.create", "booking", i)

    try:
        await asyncio.gather(*(one(i) for i in range(20)))
        await chain_all(court)
        async with maker() as db:
            report = await verify_chain(db, settings)
            actors = set((await db.scalars(select(AuditEntry.actor))).all())
    finally:
        await engine.dispose()
    assert report.ok and report.rows == 20 and report.pending == 0, report
    assert actors == {f"client-{i}" for i in range(20)}


async def test_two_sequencers_at_once_chain_each_row_once(settings):
    """Two nodes' sequencers racing (PostgreSQL: the try-lock; SQLite: the write lock)."""
    await _append(settings, 50, chain=False)
    engine = make_engine(settings)
    court = Court.build(settings, make_sessionmaker(engine))
    try:
        await asyncio.gather(chain_all(court), chain_all(court), chain_all(court))
        await chain_all(court)
        async with court.sessionmaker() as db:
            report = await verify_chain(db, settings)
    finally:
        await engine.dispose()
    assert report.ok and report.rows == 50 and report.pending == 0, report


async def test_the_running_server_chains_a_request_s_rows(client, settings):
    """The app's sequencer worker chains what a unit of work wrote, woken by its commit."""
    await new_case(client, await court_admin(client))
    for _ in range(200):
        rows = await _rows(settings)
        if rows and all(r.seq is not None for r in rows):
            break
        await asyncio.sleep(0.05)
    rows = await _rows(settings)
    assert rows and all(r.seq is not None for r in rows)


async def test_an_idle_sequencer_signs_the_checkpoint_it_owes(settings):
    """Rows chained within a minute of the last checkpoint wait for the next one, which the
    sequencer signs a minute later even if no new row comes."""
    engine = make_engine(settings)
    court = Court.build(settings, make_sessionmaker(engine))
    try:
        for n in (2, 1):
            async with court.unit(Actor.system("test")) as ctx:
                for i in range(n):
                    await record(ctx, "case.update", "case", i)
            await chain_all(court)
        async with court.sessionmaker() as db:
            sizes = list(await db.scalars(select(AuditCheckpoint.size)))
        assert sizes == [2]  # the third row came within the minute
        real = court.clock
        court.clock = lambda: real() + timedelta(seconds=61)
        assert await chain_pending(court) == 0  # nothing waits; the checkpoint is owed
        async with court.sessionmaker() as db:
            sizes = sorted(await db.scalars(select(AuditCheckpoint.size)))
    finally:
        await engine.dispose()
    assert sizes == [2, 3]


async def test_a_stopping_server_chains_what_waits_batch_by_batch(settings):
    """``Sequencer.finish`` at shutdown: batch after batch until nothing waits."""
    await _append(settings, BATCH + 20, chain=False)
    engine = make_engine(settings)
    court = Court.build(settings, make_sessionmaker(engine))
    try:
        await Sequencer(court).finish()
        async with court.sessionmaker() as db:
            report = await verify_chain(db, settings)
    finally:
        await engine.dispose()
    assert report.ok and report.rows == BATCH + 20 and report.pending == 0, report


async def test_a_stopping_server_runs_a_waiting_batch_to_its_end_past_the_deadline(
    settings, monkeypatch
):
    """A batch that must wait at shutdown (here for another writer, past ``FINISH_S``) is
    run to its end, not cut short: cut short, it left its connection, and on SQLite the
    write lock, to the garbage collector (a CI run saw the collector find one in a later
    test). The batches after the deadline are left to the next start."""
    await _append(settings, BATCH + 20, chain=False)
    monkeypatch.setattr(chain_module, "FINISH_S", 0.5)
    engine = make_engine(settings)
    court = Court.build(settings, make_sessionmaker(engine))
    try:
        # Another writer holds a row a while (SQLite: the write lock; PostgreSQL: the row).
        other = make_engine(settings)
        async with other.connect() as conn:
            await conn.execute(update(AuditEntry).where(AuditEntry.id == 1).values(actor="test"))
            finishing = asyncio.ensure_future(Sequencer(court).finish())
            await asyncio.sleep(1.5)
            assert not finishing.done()
            await conn.commit()
        await other.dispose()
        await finishing
        assert engine.pool.checkedout() == 0
        async with court.sessionmaker() as db:
            report = await verify_chain(db, settings)
    finally:
        await engine.dispose()
    assert report.ok and report.rows == BATCH and report.pending == 20, report
