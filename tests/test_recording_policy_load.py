"""A recorded session's policy (record or not, caucus rooms too) that the recording service
does not know yet is loaded in the background, while the first track is recorded meanwhile
(``RecordingService.wants``): that load is the service's to keep and to wait for at a stop,
not the event loop's alone."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from recordings import service as service_module
from recordings.store import RECORDER
from server.live import RECORDINGS
from server.models.sessions import MediationSession
from server.web.keys import SESSIONMAKER
from tests.helpers import make_user
from tests.recording_db import case_with_session
from tests.waiting import wait_for


async def test_a_stop_waits_for_a_policy_still_loading(client) -> None:
    med = await make_user(client, "med", "mediator")
    _case_id, sid = await case_with_session(client, mediator_id=med.id, status="open")
    async with client.app[SESSIONMAKER]() as db:
        session = await db.get(MediationSession, sid)
        assert session is not None
        session.record_caucus = False
        await db.commit()
    service = client.app[RECORDINGS]
    assert service.wants(sid, "caucus-1")  # not known yet: recorded until the policy loads
    # A stop right then (a shutdown) waits for the load and its unit of work: left to the
    # loop, it could still hold a database connection when the engine is disposed.
    await service.stop()
    assert service.policies[sid].record_caucus is False
    assert not service.wants(sid, "caucus-1")


async def test_a_stop_cancels_a_load_that_outlives_its_grace_and_gets_its_connection_back(
    client, monkeypatch
) -> None:
    """A load still running when the grace is over is cancelled, and its unit of work gives
    its connection back, before the stop returns: the database is disposed next, and a
    connection held then went to the collector unclosed once the loop was gone."""
    monkeypatch.setattr(service_module, "SHUTDOWN_WAIT_S", 0.2)
    service = client.app[RECORDINGS]
    holding, given_back = asyncio.Event(), asyncio.Event()

    async def stuck() -> None:  # a load that never finishes (a database that stopped answering)
        try:
            async with service.court.unit(RECORDER) as ctx:
                await ctx.db.execute(select(1))
                holding.set()
                await asyncio.Event().wait()
        finally:
            given_back.set()  # the unit of work has ended: its connection is back in the pool

    service._loading.spawn(stuck())
    await wait_for(holding.is_set, what="the load holds its connection")
    await service.stop()
    assert given_back.is_set()


async def test_a_track_starting_after_the_stop_loads_nothing(client) -> None:
    """The rooms close after the recording service: a track that starts in between is not
    recorded and starts no load (a CI run's live server stopped with such a load still
    reading the session, found by tests/checkouts.py)."""
    med = await make_user(client, "med", "mediator")
    _case_id, sid = await case_with_session(client, mediator_id=med.id, status="open")
    service = client.app[RECORDINGS]
    await service.stop()
    assert not service.wants(sid, "main")
    assert len(service._loading) == 0
