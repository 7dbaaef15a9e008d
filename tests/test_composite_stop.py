"""A server told to stop does not wait for a composite render to finish: the worker's cancel
reaches the render thread within one chunk, the half-written file goes, and the job stays
"running" in its node's name, so that node's next start takes it back and runs it again
(seen: SIGTERM waited 161-272 s for a render)."""

from __future__ import annotations

import asyncio
import threading

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


async def test_a_render_done_as_the_server_stops_is_kept_not_rendered_again(client, monkeypatch):
    """The render has finished and its last unit of work (the file's digest, the row marked
    done, the audit row) is under way when the server stops: that unit runs to its end, so
    the next start finds the composite done instead of rendering it again."""
    _, session_id = await recorded_session(client, people=2, seconds=2.0)
    rec = await recording_of(client, session_id)
    court = client.app[COURT]
    await client.app[SUPERVISOR].stop_task("recordings")  # the test is the node (above)
    async with client.app[SESSIONMAKER]() as db, db.begin():
        await db.execute(
            update(Recording)
            .where(Recording.id == rec.id)
            .values(composite_status=CompositeStatus.QUEUED)
        )
    # The digest is read inside the last unit of work, on a thread: held there until the
    # test has cancelled the job, the cancel lands in that unit every time, nothing timed.
    entered, release = threading.Event(), threading.Event()
    real_digest = jobs.sha256_file

    def held_digest(path):
        entered.set()
        release.wait(30)
        return real_digest(path)

    monkeypatch.setattr(jobs, "sha256_file", held_digest)
    assert await jobs.claim(court, "node-a") == rec.id
    task = asyncio.ensure_future(jobs.run_job(court, rec.id, "node-a"))
    try:
        assert await asyncio.to_thread(entered.wait, 60), "the render never finished"
        task.cancel()
    finally:
        release.set()
    await asyncio.wait([task])

    assert task.cancelled()  # the stop still goes through, once the unit is done
    async with reading(client.app[SESSIONMAKER]) as db:
        row = await db.get(Recording, rec.id)
        assert row is not None and row.composite_status == CompositeStatus.DONE
        assert row.composite_owner is None and row.composite_path is not None
    assert await jobs.take_back(court, "node-a") == 0
