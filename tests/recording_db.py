"""Test helpers for recordings: a case with a session, a sealed recording of it made from the
synthetic clip (files written by the real writer, rows as the recorder writes them), and the
``courtlink recordings`` command run against the app's database."""

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
from server.models.accounts import Office
from server.models.docket import Case
from server.models.recordings import Recording, RecordingSegment, SegmentStatus
from server.models.sessions import MediationSession
from server.settings import Settings
from server.web.keys import SESSIONMAKER, SETTINGS
from tests.helpers import unit
from tests.recording_media import opus_clip, vp8_clip

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


async def case_with_session(
    client: TestClient,
    *,
    mediator_id: int | None = None,
    judge_id: int | None = None,
    office: str = "center",
    number: str | None = None,
) -> tuple[int, int]:
    async with client.app[SESSIONMAKER]() as db:
        office_id = await db.scalar(select(Office.id).where(Office.code == office))
        case = Case(
            cause="民间借贷纠纷",
            office_id=office_id,
            number=number or f"(2026)晋0303民诉前调{uuid.uuid4().int % 100000}号",
            stage="pre_litigation_mediation",
            mediator_id=mediator_id,
            judge_id=judge_id,
        )
        db.add(case)
        await db.flush()
        session = MediationSession(
            case_id=case.id,
            kind="mediation",
            status="ended",
            opened_at=T0,
            ended_at=T0 + timedelta(minutes=5),
        )
        db.add(session)
        await db.commit()
        return case.id, session.id


async def recorded_session(
    client: TestClient, people: int = 2, *, seconds: float = 2.0, do_seal: bool = True, **kw: object
) -> tuple[int, int]:
    """A session whose ``people`` participants each left a camera and an audio segment,
    starting half a second apart; sealed unless ``do_seal`` is false."""
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
