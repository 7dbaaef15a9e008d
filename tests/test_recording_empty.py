"""Files with no media: crash recovery records such a segment as ``empty`` (not sealed as a
recording, no server path in its note), and ``courtlink recordings verify`` decodes every
file, so a sealed file that does not play, or plays nothing, fails by name.

Finding 13 of issue 12: a kill right after a segment opened left a header-only file, which
recovery noted unreadable and sealed anyway, and verify (hashes only) passed.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from recordings import crash, paths, seal
from recordings.verify import verify_session
from recordings.writer import SegmentWriter
from server.models.recordings import Recording, RecordingSegment, SegmentStatus
from server.web.keys import COURT, SESSIONMAKER, SETTINGS
from tests.helpers import unit
from tests.recording_db import T0, recorded_session, recording_of, recordings_cli
from tests.recording_media import opus_clip


def _cut_file(path: Path, seconds: float) -> None:
    """What a SIGKILL leaves of an audio segment ``seconds`` into it: the writer is never
    closed; the file is copied as it is on disk."""
    clip = opus_clip(seconds)
    tmp = path.with_suffix(".writing")
    writer = SegmentWriter(tmp, "audio", started_at=T0, tags={"segment": path.stem})
    for unit_ in clip:
        writer.write(unit_.data, unit_.pts, True)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp, path)
    writer.close()
    tmp.unlink()


async def _open_segment(client, session_id: int, seconds: float) -> str:
    """A segment row still ``recording`` (as a killed server leaves it) over a cut file."""
    settings = client.app[SETTINGS]
    uid = uuid.uuid4().hex
    rel = paths.segment_relpath(session_id, uid)
    _cut_file(paths.root(settings) / rel, seconds)
    async with client.app[SESSIONMAKER]() as db:
        rec = await db.scalar(select(Recording).where(Recording.session_id == session_id))
        db.add(
            RecordingSegment(
                recording_id=rec.id,
                uid=uid,
                peer_id="p9",
                participant="孙七",
                label="audio",
                kind="audio",
                codec="opus",
                path=rel,
                status=SegmentStatus.RECORDING,
                started_at=T0 + timedelta(seconds=30),
                note="start: restart",
            )
        )
        await db.commit()
    return uid


async def test_recovery_records_a_header_only_segment_as_empty(client):
    settings = client.app[SETTINGS]
    _, session_id = await recorded_session(client, people=1, seconds=0.5)
    header_only = await _open_segment(client, session_id, 0.06)  # 3 frames: still in memory
    cut = await _open_segment(client, session_id, 2.0)
    header_path = paths.root(settings) / paths.segment_relpath(session_id, header_only)
    assert header_path.stat().st_size > 0

    assert await crash.recover(client.app[COURT]) == [session_id]

    rec = await recording_of(client, session_id)
    segs = {s.uid: s for s in rec.segments}
    empty, kept = segs[header_only], segs[cut]
    assert empty.status == "empty", empty.note
    assert empty.frames == 0 and empty.sha256 is None and "no media" in empty.note
    assert not header_path.exists()
    assert kept.status == "interrupted" and kept.frames and kept.sha256, kept.note
    notes = [s.note for s in rec.segments]
    assert notes and not any(str(settings.data_dir) in n or "/recordings/" in n for n in notes)
    manifest = paths.session_dir(settings, session_id) / paths.MANIFEST
    assert header_only not in manifest.read_text() and cut in manifest.read_text()

    async with unit(client.app) as ctx:
        report = await verify_session(ctx.db, settings, await recording_of(client, session_id))
    assert report.ok, report.problems
    assert report.empty == 1
    result = await recordings_cli(settings, "verify", str(session_id))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 segment(s) with no media" in result.stdout


async def test_verify_fails_a_sealed_file_that_does_not_play(client):
    """A header-only file sealed as a recording (what recovery used to do) fails verify,
    named, although its hash matches the manifest."""
    settings = client.app[SETTINGS]
    _, session_id = await recorded_session(client, people=1, seconds=0.5, do_seal=False)
    rec = await recording_of(client, session_id)
    audio = next(s for s in rec.segments if s.kind == "audio")
    path = paths.inside(settings, audio.path)
    _cut_file(path, 0.06)
    async with unit(client.app) as ctx:
        own = await ctx.db.scalar(select(Recording).where(Recording.session_id == session_id))
        await seal.seal(ctx, own)

    result = await recordings_cli(settings, "verify", str(session_id))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "UNPLAYABLE" in result.stdout and path.name in result.stdout
    assert str(settings.data_dir) not in (await recording_of(client, session_id)).segments[0].note


async def test_verify_fails_a_file_that_decodes_fewer_frames_than_its_segment(client):
    settings = client.app[SETTINGS]
    _, session_id = await recorded_session(client, people=1, seconds=0.5)
    async with client.app[SESSIONMAKER]() as db:
        rec = await db.scalar(select(Recording).where(Recording.session_id == session_id))
        seg = next(s for s in rec.segments if s.kind == "video")
        seg.frames = (seg.frames or 0) + 5  # the row says more than the file holds
        name = Path(seg.path).name
        await db.commit()
    result = await recordings_cli(settings, "verify", str(session_id))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FRAMES" in result.stdout and name in result.stdout


def test_cut_helper_leaves_what_a_kill_leaves(tmp_path: Path):
    # Guard for the fixture above: 3 frames stay in the muxer's open cluster.
    _cut_file(tmp_path / "a.webm", 0.06)
    assert 0 < (tmp_path / "a.webm").stat().st_size < 1000
