"""The composite playback file: a 3-participant recording becomes one file that PyAV decodes,
as long as the session's timeline; progress is reported; a failed job is retried."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import av

from recordings import composite, jobs, paths
from server.models.recordings import Recording
from server.web.keys import SESSIONMAKER, SETTINGS
from tests.helpers import csrf, login, make_user
from tests.recording_db import recorded_session, recording_of
from tests.waiting import wait_for


def _decode(path: Path) -> tuple[int, int, float, float]:
    """(video frames, audio frames, video seconds, audio seconds) decoded from ``path``."""
    counts = {"video": 0, "audio": 0}
    ends = {"video": 0.0, "audio": 0.0}
    with av.open(str(path)) as c:
        for frame in c.decode(*c.streams):
            kind = "video" if isinstance(frame, av.VideoFrame) else "audio"
            counts[kind] += 1
            end = float(frame.time or 0)
            if kind == "audio":
                end += frame.samples / frame.sample_rate
            ends[kind] = max(ends[kind], end)
    return counts["video"], counts["audio"], ends["video"], ends["audio"]


async def _wait_status(client, session_id: int, *wanted: str) -> dict:
    async def reached() -> dict | None:
        resp = await client.get(f"/api/v1/sessions/{session_id}/recording")
        body = await resp.json()
        return body if body["composite_status"] in wanted else None

    return await wait_for(reached, 60, what=f"the composite {' or '.join(wanted)}")


async def test_render_reports_progress_and_lines_up_three_people(client):
    _, session_id = await recorded_session(client, people=3, seconds=2.0)
    rec = await recording_of(client, session_id)
    async with client.app[SESSIONMAKER]() as db:
        rec = await db.get(Recording, rec.id)
        sources = jobs.sources_of(client.app[SETTINGS], rec)
    assert sorted(s.start_ms for s in sources) == [0, 0, 500, 500, 1000, 1000]
    seen: list[float] = []
    out = Path(client.app[SETTINGS].data_dir) / "composite-test.webm"
    duration = await asyncio.to_thread(composite.render, sources, out, seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 3
    assert abs(duration - 3000) <= 60
    video, audio, vsec, asec = _decode(out)
    assert abs(vsec - 3.0) <= 0.15 and abs(asec - 3.0) <= 0.1
    assert video >= 3.0 * composite.FPS - 2 and audio >= 140
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (640, 480)  # a 2x2 grid


async def test_composite_job_through_the_api_with_retry_after_failure(client, caplog):
    caplog.set_level(logging.ERROR, logger="recordings.jobs")
    await make_user(client, "clk", "clerk")
    _, session_id = await recorded_session(client, people=3, seconds=2.0)
    await login(client, "clk")
    settings = client.app[SETTINGS]
    rec = await recording_of(client, session_id)
    victim = paths.inside(settings, rec.segments[0].path)
    original = victim.read_bytes()
    victim.write_bytes(b"this is not a WebM file")  # the job must fail, not hang or pass

    resp = await client.post(
        f"/api/v1/sessions/{session_id}/recording/composite",
        headers={"X-CSRF-Token": csrf(client)},
    )
    assert resp.status == 202
    # Nobody asks again: the worker retries the failed job once by itself, so it ends failed
    # after two attempts, each of them a render that failed and was logged.
    for _ in range(600):
        rec = await recording_of(client, session_id)
        if rec.composite_status == "failed" and rec.composite_attempts >= 2:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(
            f"no automatic retry: {rec.composite_status}, {rec.composite_attempts} attempt(s)"
        )
    assert rec.composite_attempts == 2
    failures = [
        r for r in caplog.records if r.getMessage() == f"composite of session {session_id} failed"
    ]
    assert len(failures) == 2
    failed = await (await client.get(f"/api/v1/sessions/{session_id}/recording")).json()
    assert failed["composite_status"] == "failed" and failed["composite_error"]
    page = await client.get(f"/recordings/sessions/{session_id}")
    assert "composite-progress" in await page.text()

    victim.write_bytes(original)
    resp = await client.post(
        f"/api/v1/sessions/{session_id}/recording/composite",
        headers={"X-CSRF-Token": csrf(client)},
    )
    assert resp.status == 202
    done = await _wait_status(client, session_id, "done")
    assert done["composite_progress"] == 1.0 and abs(done["composite_duration_ms"] - 3000) <= 60
    played = await client.get(f"/recordings/sessions/{session_id}/composite/play")
    assert played.status == 200
    data = await played.read()
    out = Path(settings.data_dir) / "downloaded.webm"
    out.write_bytes(data)
    video, audio, vsec, _ = _decode(out)
    assert video > 0 and audio > 0 and abs(vsec - 3.0) <= 0.15


async def test_a_sealed_recording_never_composed_offers_to_make_it(client):
    """A sealed recording whose composite was never queued (a recording the court brought in
    from elsewhere, the demo's) offers the one action that helps, not a bar stuck at 0%."""
    await make_user(client, "clk", "clerk")
    _, session_id = await recorded_session(client, people=1, seconds=0.5)
    assert (await recording_of(client, session_id)).composite_status == "none"
    await login(client, "clk")
    page = await (await client.get(f"/recordings/sessions/{session_id}")).text()
    form = page.split('<section class="card" id="composite"', 1)[1].split("</section>", 1)[0]
    assert f'action="/recordings/sessions/{session_id}/composite"' in form
    assert ">生成</button>" in form
    # Who was recorded, and why each segment ended, are asides in the language's brackets.
    assert '<span class="muted">（摄像头' in page and '<span class="muted"> (' not in page
