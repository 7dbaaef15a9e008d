"""The sealing sweep seals a recording once however many nodes sweep at the same moment
(recordings.service: the row is locked, and one already sealed or being sealed is passed
over), on PostgreSQL, the cluster's database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from server.app import create_app
from server.live import RECORDINGS
from server.models.audit import AuditEntry
from tests.recording_db import recorded_session, recording_of


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_two_nodes_sweeping_at_once_seal_once(aiohttp_client, settings) -> None:
    first = await aiohttp_client(create_app(settings.model_copy(update={"node_id": "node-a"})))
    second = await aiohttp_client(create_app(settings.model_copy(update={"node_id": "node-b"})))
    # A session that ended while nobody was connected: its recording waits for a sweep.
    _case, session_id = await recorded_session(first, do_seal=False)
    rec = await recording_of(first, session_id)
    assert rec.sealed_at is None
    services = [first.app[RECORDINGS], second.app[RECORDINGS]]
    for _ in range(2):
        await asyncio.gather(*(service.sweep() for service in services))
    rec = await recording_of(first, session_id)
    assert rec.sealed_at is not None
    async with first.app[RECORDINGS].court.sessionmaker() as db:
        sealed = await db.scalars(
            select(AuditEntry.object_id).where(AuditEntry.action == "recording.sealed")
        )
        assert list(sealed) == [str(rec.id)]
