"""SIGKILL within half a second of a segment opening (finding 13 of issue 12, and the recording
kill of its attack suite).

``courtlink serve`` runs as a subprocess; the host, a real aiortc peer, publishes a looped
VP8/Opus clip in a recorded session; the host stops and restarts recording through the API
(a new segment opens per track), and the server is SIGKILLed 0.3 s after the first new
segment is in the database. It used to leave header-only files that recovery sealed and
``verify`` passed. After a restart (recovery runs before the server answers):
``courtlink recordings verify`` passes (it decodes every file), every segment's file decodes
from its first frame up to at most 1 s before the kill, and a segment that got no media on
disk (possible only if it opened less than 1 s before the kill) is recorded as ``empty``.
"""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import av
import pytest

from recordings import paths
from server.db import make_engine, make_sessionmaker
from tests.helpers import free_port
from tests.kill_helpers import Server
from tests.recording_db import recordings_cli
from tests.test_recording_crash import (
    _both_tracks_written,
    _host_in_room,
    _seed,
    _segments,
)
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

KILL_AFTER_OPEN_S = 0.3
MAY_LOSE_S = 1.0


def _media(path) -> tuple[int, float, float]:
    """Decode the file: (frames decoded, first frame's time, end of its media), in seconds."""
    frames, first, end = 0, None, 0.0
    with av.open(str(path)) as container:
        stream = container.streams[0]
        tb = stream.time_base
        for packet in container.demux(stream):
            if packet.pts is not None and packet.size:
                first = float(packet.pts * tb) if first is None else first
                end = max(end, float((packet.pts + (packet.duration or 0)) * tb))
            frames += len(packet.decode())
    return frames, first if first is not None else -1.0, end


async def test_sigkill_right_after_a_segment_opens(settings, tmp_path):
    engine = make_engine(settings)
    maker = make_sessionmaker(engine)
    server = Server(settings, free_port(), tmp_path / "server.log")
    try:
        _, session_id = await _seed(settings, maker)
        await server.start()
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            host = await _host_in_room(http, server, session_id)
            csrf = next(c.value for c in jar if c.key == "cl_csrf")  # the session's own
            await wait_for(
                lambda: _both_tracks_written(maker, settings, session_id),
                60,
                what="both tracks written",
                detail=server.log_tail,
            )

            async def set_active(active: bool) -> None:
                resp = await http.post(
                    f"{server.url}/api/v1/sessions/{session_id}/recording",
                    json={"active": active},
                    headers={"X-CSRF-Token": csrf},
                )
                assert resp.status == 200, await resp.text()

            await set_active(False)

            async def first_segments_closed() -> bool:
                segs = await _segments(maker, session_id)
                return bool(segs) and all(s.status == "complete" for s in segs)

            await wait_for(first_segments_closed, 60, detail=server.log_tail)
            await set_active(True)

            async def a_new_segment() -> bool:
                return len(await _segments(maker, session_id)) > 2

            await wait_for(a_new_segment, 60, detail=server.log_tail)
            await asyncio.sleep(KILL_AFTER_OPEN_S)
            killed_at = time.time()
            await server.kill(signal.SIGKILL)
            await host.close()

        cut = [s for s in await _segments(maker, session_id) if s.status == "recording"]
        assert cut, "the kill must land while segments are open"

        await server.start()  # recovery runs before the server answers
        await server.kill(signal.SIGTERM)

        result = await recordings_cli(settings, "verify", str(session_id))
        assert result.returncode == 0, result.stdout + result.stderr

        segs = await _segments(maker, session_id)
        assert len(segs) >= 3
        seen = []
        for seg in segs:
            started = seg.started_at.timestamp()
            path = paths.inside(settings, seg.path)
            assert str(settings.data_dir) not in seg.note
            seen.append(f"{seg.label} {seg.status} opened {killed_at - started:.2f} s before")
            if seg.status == "empty":
                # Nothing was due on disk yet: it opened less than MAY_LOSE_S before the kill.
                assert started > killed_at - MAY_LOSE_S, seg.note
                assert not path.exists()
                continue
            assert seg.status in ("complete", "interrupted"), (seg.status, seg.note)
            frames, first, end = _media(path)
            assert frames == seg.frames > 0, (seg.label, frames, seg.frames, seg.note)
            assert first == 0.0, "a file starts with its segment's first frame"
            if seg.status == "interrupted":
                # Decodes up to at most MAY_LOSE_S before the kill (or as far as it went).
                lag = killed_at - (started + end)
                seen[-1] += f", {frames} frames decode, lost the last {lag:.2f} s"
                assert lag <= MAY_LOSE_S, (seg.label, seg.note, lag)
        print("KILL recording:", "; ".join(seen))  # the figures of bench/README.md
    finally:
        if server.proc is not None and server.proc.returncode is None:
            await server.kill(signal.SIGKILL)
        await engine.dispose()
