"""The host starts or stops recording before any media has arrived (finding 10 of issue 12):
the session has no recording row yet, the API creates it, and answers 200 (it answered 500:
the fresh row's segments were lazily loaded outside the async session's greenlet)."""

from __future__ import annotations

from sqlalchemy import select

from server.models.recordings import Recording
from server.web.keys import SESSIONMAKER
from tests.helpers import csrf, login, make_user
from tests.recording_db import case_with_session


async def test_host_starts_and_stops_recording_before_any_media(client):
    med = await make_user(client, "med", "mediator")
    for active in (False, True):
        _, session_id = await case_with_session(client, mediator_id=med.id, status="open")
        async with client.app[SESSIONMAKER]() as db:
            assert (
                await db.scalar(select(Recording).where(Recording.session_id == session_id)) is None
            )
        await login(client, "med")
        resp = await client.post(
            f"/api/v1/sessions/{session_id}/recording",
            json={"active": active},
            headers={"X-CSRF-Token": csrf(client)},
        )
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        assert body["active"] is active and body["segments"] == []
        resp = await client.get(f"/api/v1/sessions/{session_id}/recording")
        assert resp.status == 200 and (await resp.json())["active"] is active
