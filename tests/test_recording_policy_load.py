"""A recorded session's policy (record or not, caucus rooms too) that the recording service
does not know yet is loaded in the background, while the first track is recorded meanwhile
(``RecordingService.wants``): that load is the service's to keep and to wait for at a stop,
not the event loop's alone."""

from __future__ import annotations

from server.live import RECORDINGS
from server.models.sessions import MediationSession
from server.web.keys import SESSIONMAKER
from tests.helpers import make_user
from tests.recording_db import case_with_session


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
