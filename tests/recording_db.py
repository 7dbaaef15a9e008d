"""Test helpers for recordings: a case with a session (made through the domain functions), a
sealed recording of it made from the synthetic clip (files written by the real writer, rows as
the recorder writes them), and the ``courtlink recordings`` command run against the app's
database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from recordings import paths, seal
from recordings.writer import SegmentWriter
from server.docket import get_case
from server.models.docket import Stage
from server.models.recordings import Recording, RecordingSegment, SegmentStatus
from server.sessions import create_session, end_session, mark_open
from server.settings import Settings
from server.web.keys import SESSIONMAKER, SETTINGS
from tests.docket_helpers import court_admin, new_case, stop_clock
from tests.helpers import unit
from tests.recording_media import opus_clip, vp8_clip

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


async def case_with_session(
    client: TestClient,
    *,
    mediator_id: int | None = None,
    judge_id: int | None = None,
    office: str = "center",
    status: str = "ended",
) -> tuple[int, int]:
    """A case in pre-litigation mediation (two consenting parties) with a mediation session
    opened at ``T0`` and, unless ``status`` is "open", ended five minutes later: all made by
    an admin through the domain functions, as the court would."""
    assert status in ("open", "ended"), status
    admin = await court_admin(client)
    case_id = await new_case(
        client,
        admin,
        office=office,
        stage=Stage.PRE_LITIGATION_MEDIATION,
        on=T0,
        mediator_id=mediator_id,
        judge_id=judge_id,
    )
    async with unit(client.app, admin) as ctx:
        stop_clock(ctx, T0)
        session = await create_session(ctx, await get_case(ctx, case_id), kind="mediation")
        await mark_open(ctx, session)
        if status == "ended":
            stop_clock(ctx, T0 + timedelta(minutes=5))
            await end_session(ctx, session)
    return case_id, session.id


async def recorded_session(
    client: TestClient, people: int = 2, *, seconds: float = 2.0, do_seal: bool = True, **kw: object
) -> tuple[int, int]:
    """A session whose ``people`` participants each left a camera and an audio segment,
    starting half a second apart; sealed unless ``do_seal`` is false (the court seals a
    recording when its session ends, so an open session's recording is never sealed)."""
    assert not (do_seal and kw.get("status") == "open"), "an open session is not sealed"
    case_id, session_id = await case_with_session(client, **kw)  # type: ignore[arg-type]
    settings = client.app[SETTINGS]
    async with unit(client.app) as ctx:
        db = ctx.db
        rec = Recording(session_id=session_id, case_id=case_id, active=False)
        db.add(rec)
        await db.flush()
        for n in range(people):
            start = T0 + timedelta(milliseconds=500 * n)
            for kind, clip in (("video", vp8_clip(seconds)), ("audio", opus_clip(seconds))):
                uid = uuid.uuid4().hex
                rel = paths.segment_relpath(session_id, uid)
                writer = SegmentWriter(
                    paths.root(settings) / rel,
                    kind,
                    started_at=start,
                    width=320,
                    height=240,
                    tags={"segment": uid},
                )
                for frame in clip:
                    writer.write(frame.data, frame.pts, frame.keyframe)
                stats = writer.close()
                db.add(
                    RecordingSegment(
                        recording_id=rec.id,
                        uid=uid,
                        peer_id=f"p{n}",
                        identity=f"party:{n}",
                        participant=["张三", "李四", "王五", "赵六"][n],
                        room="main",
                        label="camera" if kind == "video" else "audio",
                        kind=kind,
                        codec="vp8" if kind == "video" else "opus",
                        width=320 if kind == "video" else 0,
                        height=240 if kind == "video" else 0,
                        path=rel,
                        status=SegmentStatus.COMPLETE,
                        started_at=start,
                        ended_at=start + timedelta(milliseconds=stats.duration_ms),
                        end_reason="session_end",
                        frames=stats.frames,
                        duration_ms=stats.duration_ms,
                    )
                )
        await db.flush()
        if do_seal:
            await db.refresh(rec, ["segments"])
            await seal.seal(ctx, rec)
    return case_id, session_id


async def recording_of(client: TestClient, session_id: int) -> Recording:
    async with client.app[SESSIONMAKER]() as db:
        rec = await db.scalar(select(Recording).where(Recording.session_id == session_id))
        assert rec is not None
        return rec


async def recordings_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``courtlink recordings ARGS`` without blocking this process's event loop (the app
    under test keeps serving, as a live server would)."""
    env = {
        **os.environ,
        "COURTLINK_DATA_DIR": str(settings.data_dir),
        "COURTLINK_DATABASE_URL": settings.effective_database_url,
    }
    command = [str(Path(sys.executable).parent / "courtlink"), "recordings", *args]
    proc = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return subprocess.CompletedProcess(command, proc.returncode or 0, out.decode(), err.decode())
