"""A real server killed with SIGKILL during a recording, then started again.

``courtlink serve`` runs as a subprocess on a free port over this test's database; a real
aiortc peer logs in as the mediator, joins the session over the real WebSocket and publishes
a pre-encoded VP8/Opus clip; the server is SIGKILLed mid-recording. At the next start the
server finds the cut segments, finalizes them, marks them interrupted and seals them: the
files decode with PyAV up to within 2 s of the kill, and verification passes.
"""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import select

from recordings import paths
from recordings.verify import verify_session
from server import docket
from server.accounts import add_user
from server.context import Actor, Court
from server.db import make_engine, make_sessionmaker
from server.docket.schemas import CaseCreate
from server.models.docket import Stage
from server.models.recordings import Recording, RecordingSegment
from server.sessions import create_session
from signaling.server_messages import Welcome
from tests.docket_helpers import parties
from tests.helpers import PASSWORD, free_port
from tests.kill_helpers import Server
from tests.recording_media import decoded_frames
from tests.test_signaling_ws import WsPeer

pytestmark = pytest.mark.slow


async def _seed(settings, maker) -> tuple[int, int]:
    """The mediator, and a case in pre-litigation mediation assigned to them with a session
    to host, made by an admin through the domain functions."""
    court = Court.build(settings, maker)
    async with court.unit(Actor.system("cli")) as ctx:
        admin = await add_user(
            ctx, username="fixture-admin", display_name="管理员", role="admin",
            office_code="center", password=PASSWORD,
        )  # fmt: skip
        med = await add_user(
            ctx, username="med", display_name="王调解员", role="mediator",
            office_code="center", password=PASSWORD,
        )  # fmt: skip
        ctx.actor = Actor.for_user(admin)
        case = await docket.create_case(
            ctx, CaseCreate(cause="民间借贷纠纷", parties=parties(True)), office_id=admin.office_id
        )
        await docket.transition(ctx, case, Stage.PRE_LITIGATION_MEDIATION)
        await docket.assign(ctx, case, mediator_id=med.id)
        session = await create_session(ctx, case, kind="mediation")
        assert session.host_id == med.id
        return med.id, session.id


async def _segments(maker, session_id: int) -> list[RecordingSegment]:
    async with maker() as db:
        rec = await db.scalar(select(Recording).where(Recording.session_id == session_id))
        return list(rec.segments) if rec is not None else []


async def _host_in_room(http: aiohttp.ClientSession, server: Server, session_id: int) -> WsPeer:
    """The mediator ("med", from ``_seed``) logged in to ``server`` through its login form and
    in the session's main room as a media peer, so that the recording starts."""
    await http.get(f"{server.url}/login")
    token = next(c.value for c in http.cookie_jar if c.key == "cl_csrf")
    resp = await http.post(
        f"{server.url}/login",
        data={"username": "med", "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )
    assert resp.status == 303
    host = WsPeer(http, f"ws://127.0.0.1:{server.port}/ws/sessions/{session_id}", media=True)
    await host.connect(Origin=server.url)
    await host.send("hello")
    await host.wait(lambda m: isinstance(m, Welcome))
    return host


async def _both_tracks_written(maker, settings, session_id: int) -> bool:
    """Both of the host's tracks are being recorded, each file past its first 20 kB."""
    segs = await _segments(maker, session_id)
    return len(segs) == 2 and all(
        paths.inside(settings, s.path).exists()
        and paths.inside(settings, s.path).stat().st_size > 20_000
        for s in segs
    )


async def test_sigkill_mid_recording_then_restart_recovers(settings, tmp_path):
    engine = make_engine(settings)
    maker = make_sessionmaker(engine)
    try:
        _, session_id = await _seed(settings, maker)
        server = Server(settings, free_port(), tmp_path / "server.log")
        await server.start()
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            host = await _host_in_room(http, server, session_id)
            for _ in range(600):
                if await _both_tracks_written(maker, settings, session_id):
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"nothing recorded: {server.log.read_text()[-3000:]}")
            killed_at = time.time()
            await server.kill(signal.SIGKILL)
            await host.close()

        cut = await _segments(maker, session_id)
        assert {s.status for s in cut} == {"recording"}  # what a dead server leaves behind

        await server.start()  # recovery runs before the server answers
        await server.kill(signal.SIGTERM)

        segs = await _segments(maker, session_id)
        assert {s.label for s in segs} == {"camera", "audio"}
        for seg in segs:
            assert seg.status == "interrupted" and seg.end_reason == "crash", seg.note
            assert seg.sha256 and seg.size and seg.frames
            decoded, payloads, seconds = decoded_frames(str(paths.inside(settings, seg.path)))
            assert decoded == len(payloads) == seg.frames > 0
            last_media = seg.started_at + timedelta(seconds=seconds)
            assert last_media.timestamp() >= killed_at - 2.0, (seg.label, seconds, seg.note)
            assert seg.ended_at is not None
        async with maker() as db:
            rec = await db.scalar(select(Recording).where(Recording.session_id == session_id))
            assert rec.interrupted and rec.sealed_at is not None
            report = await verify_session(db, settings, rec)
            assert report.ok, report.problems
    finally:
        await engine.dispose()
