"""A server told to stop does not wait for a composite render to finish: the worker's cancel
reaches the render thread within one chunk, the half-written file goes, and the job stays
"running" in its node's name, so that node's next start takes it back and runs it again
(seen: SIGTERM waited 161-272 s for a render)."""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from recordings import jobs, paths
from server.db import reading
from server.models.recordings import CompositeStatus, Recording
from server.web.keys import COURT, SESSIONMAKER, SETTINGS, SUPERVISOR
from tests.recording_db import recorded_session, recording_of


async def test_cancelled_render_stops_its_thread_and_stays_queued_for_the_next_start(client):
    _, session_id = await recorded_session(client, people=3, seconds=8.0)
    rec = await recording_of(client, session_id)
    out = paths.inside(client.app[SETTINGS], paths.composite_relpath(session_id))
    part = out.with_name(out.name + ".part")

    court = client.app[COURT]
    # The test is the node that claims: the app's own composite worker, woken by its poll,
    # would otherwise take the job between the queueing and the claim below (a CI run
    # under load saw the claim find nothing).
    await client.app[SUPERVISOR].stop_task("recordings")
    async with client.app[SESSIONMAKER]() as db, db.begin():
        await db.execute(
            update(Recording)
            .where(Recording.id == rec.id)
            .values(composite_status=CompositeStatus.QUEUED)
        )
    assert await jobs.claim(court, "node-a") == rec.id
    task = asyncio.ensure_future(jobs.run_job(court, rec.id, "node-a"))
    while not part.exists():  # the render has started writing
        assert not task.done(), "the render finished before it could be stopped"
        await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.wait([task])

    assert task.cancelled()
    # The render thread has returned (its finally removed the partial file); before the fix
    # it went on encoding the whole recording after the cancel.
    assert not part.exists() and not out.exists()
    # A read, as the product's workers read: no write lock taken on SQLite (a CI run under
    # load found the database locked here by the app's own recording worker).
    async with reading(client.app[SESSIONMAKER]) as db:
        row = await db.get(Recording, rec.id)
        assert row is not None and row.composite_status == "running"
        assert row.composite_owner == "node-a" and row.composite_path is None
    assert await jobs.take_back(court, "node-a") == 1
