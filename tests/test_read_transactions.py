"""Reads never wait for SQLite's write lock; a read that writes after all still works.

SQLite only: the write lock is SQLite's (PostgreSQL has none to wait for). The lock is held
here by a second, raw connection to the same file, as any other writer (a worker, the CLI)
would hold it. Bounds are failure conditions, not timings.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import aiohttp
import pytest
from sqlalchemy import select

from server.models.audit import AuditEntry
from server.models.recordings import RecordingSegment
from server.models.sessions import Invite
from server.web.keys import SESSIONMAKER, SETTINGS
from tests.helpers import login, make_user, sqlite_write_lock
from tests.recording_db import recorded_session
from tests.test_signaling_ws import ORIGIN, _session_with_invites

ANSWER_BOUND = 20.0  # below the 30 s busy timeout: a request that waited for the lock fails


class MetTheLock(logging.Handler):
    """Set when the web layer says it runs a read again as a writer."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "running it again as a writer" in record.getMessage():
            self.event.set()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_reads_answer_while_another_writer_holds_the_lock(client):
    await make_user(client, "clerk1", "clerk")
    await login(client, "clerk1")
    async with sqlite_write_lock(client.app):
        for path in ("/healthz", "/api/v1/cases", "/cases"):
            resp = await asyncio.wait_for(client.get(path), ANSWER_BOUND)
            assert resp.status == 200, path


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_read_that_writes_meets_a_writer_and_is_run_again(client):
    """Playing a recording writes its audit row from a GET. With the lock held elsewhere
    the GET's deferred transaction cannot become a writer (SQLITE_BUSY at once); the web
    layer runs it again as a writer, which waits for the lock and then answers."""
    mediator = await make_user(client, "med", "mediator")
    await recorded_session(client, people=1, seconds=0.5, mediator_id=mediator.id)
    async with client.app[SESSIONMAKER]() as db:
        seg_id = await db.scalar(
            select(RecordingSegment.id).where(RecordingSegment.kind == "video")
        )
    assert seg_id is not None
    await login(client, "med")
    path = f"/recordings/segments/{seg_id}/play"
    met = MetTheLock()
    logger = logging.getLogger("server.web.context")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(met)
    try:
        async with sqlite_write_lock(client.app):
            play = asyncio.create_task(client.get(path))
            await asyncio.wait(
                [asyncio.create_task(met.event.wait()), play],
                timeout=ANSWER_BOUND,
                return_when=asyncio.FIRST_COMPLETED,
            )
            assert met.event.is_set(), "the GET did not meet the lock (or answered without it)"
            assert not play.done()
    finally:
        logger.removeHandler(met)
        logger.setLevel(level)
    resp = await asyncio.wait_for(play, ANSWER_BOUND)
    assert resp.status == 200
    await resp.read()
    async with client.app[SESSIONMAKER]() as db:
        rows = (
            await db.scalars(select(AuditEntry).where(AuditEntry.action == "recording.played"))
        ).all()
    assert len(rows) == 1


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_open_websockets_hold_no_transaction(client):
    """A session's sockets live for hours: once they are up, nothing of their requests may
    still hold a read snapshot (it would stop the WAL from ever being checkpointed) or the
    write lock. The party's connection wrote (its invite's last use) on the way in."""
    _med, _case_id, sid, token = await _session_with_invites(client)
    await login(client, "med")
    url = client.make_url(f"/ws/sessions/{sid}")
    async with aiohttp.ClientSession() as anon:
        host = await client.session.ws_connect(url, headers={"Origin": ORIGIN})
        party = await anon.ws_connect(f"{url}?invite={token}", headers={"Origin": ORIGIN})
        try:
            path = client.app[SETTINGS].effective_database_url.split("///", 1)[1]
            # Off the event loop: the app's own writers need the loop to let go of a lock
            # that a wait on this thread would only hold up.
            raw = sqlite3.connect(path, isolation_level=None, timeout=5, check_same_thread=False)
            try:
                # A background worker's short transaction (the audit sequencer, the outbox
                # sender, the composite worker) may be running at the moment of a checkpoint;
                # a snapshot held by a socket's request never ends. So: a few tries.
                for _ in range(20):
                    done = await asyncio.to_thread(raw.execute, "PRAGMA wal_checkpoint(TRUNCATE)")
                    busy, _log, _done = done.fetchone()
                    if busy == 0:
                        break
                    await asyncio.sleep(0.1)
                assert busy == 0
            finally:
                raw.close()
            async with sqlite_write_lock(client.app):
                pass  # nothing of the sockets' requests holds the write lock
        finally:
            await host.close()
            await party.close()
    async with client.app[SESSIONMAKER]() as db:
        invite = await db.scalar(select(Invite).where(Invite.session_id == sid))
        assert invite is not None and invite.last_used_at is not None
