"""Composite renders run once however many nodes share the database (recordings.jobs):
concurrent claims never take the same job, a live lease holds against other nodes and a lapsed
one is taken over, and a restarted node takes back its own unfinished jobs at once. On both
databases (PostgreSQL skips a row another claim has locked; SQLite has one writer)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update

from recordings.jobs import claim, take_back
from server.models.base import utcnow
from server.models.recordings import CompositeStatus, Recording
from server.web.keys import COURT, SESSIONMAKER, SUPERVISOR
from tests.helpers import unit
from tests.recording_db import case_with_session


async def queued(client, count: int) -> list[int]:
    """``count`` recordings whose composite is queued, each of its own ended session. The
    app's own composite worker is stopped first: here the tests are the nodes that claim."""
    await client.app[SUPERVISOR].stop_task("recordings")
    ids = []
    for _ in range(count):
        case_id, session_id = await case_with_session(client)
        async with unit(client.app) as ctx:
            rec = Recording(
                session_id=session_id,
                case_id=case_id,
                active=False,
                composite_status=CompositeStatus.QUEUED,
            )
            ctx.db.add(rec)
            await ctx.db.flush()
            ids.append(rec.id)
    return ids


async def state(client, rec_id: int) -> tuple[str, str | None, int]:
    async with client.app[SESSIONMAKER]() as db:
        rec = await db.get(Recording, rec_id)
        assert rec is not None
        return rec.composite_status, rec.composite_owner, rec.composite_attempts


async def test_concurrent_claims_take_each_job_once(client) -> None:
    jobs = await queued(client, 3)
    court = client.app[COURT]
    got = await asyncio.gather(*(claim(court, f"node-{n % 2}") for n in range(8)))
    taken = [g for g in got if g is not None]
    assert sorted(taken) == jobs  # each once, none twice
    assert got.count(None) == 5
    for rec_id in jobs:
        status, owner, attempts = await state(client, rec_id)
        assert status == CompositeStatus.RUNNING and owner in ("node-0", "node-1")
        assert attempts == 1


async def test_a_live_lease_holds_and_a_lapsed_one_is_taken_over(client) -> None:
    (job,) = await queued(client, 1)
    court = client.app[COURT]
    assert await claim(court, "node-a") == job
    assert await claim(court, "node-b") is None  # node a is rendering it
    # Node a dies: nothing renews its lease, and once it lapses node b takes the job.
    async with client.app[SESSIONMAKER]() as db, db.begin():
        await db.execute(
            update(Recording)
            .where(Recording.id == job)
            .values(composite_lease_until=utcnow() - timedelta(seconds=1))
        )
    assert await claim(court, "node-b") == job
    assert await state(client, job) == (CompositeStatus.RUNNING, "node-b", 2)
    assert await claim(court, "node-a") is None


async def test_a_restarted_node_takes_back_only_its_own_jobs(client) -> None:
    first, second = await queued(client, 2)
    court = client.app[COURT]
    assert await claim(court, "node-a") == first
    assert await claim(court, "node-b") == second
    # Node a starts again: its own job is due again at once, node b's is left alone.
    assert await take_back(court, "node-a") == 1
    assert (await state(client, first))[:2] == (CompositeStatus.QUEUED, None)
    assert (await state(client, second))[:2] == (CompositeStatus.RUNNING, "node-b")
    assert await claim(court, "node-a") == first
