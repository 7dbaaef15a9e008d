"""A segment cut by a kill right after it opened: what is on disk decodes, from its first frame.

Finding 13 of issue 12: the muxer kept the open 1 s cluster in memory, so a writer given 0.8 s
of frames and then killed had written only its header (no player opens that). A SIGKILL leaves
exactly the bytes handed to the kernel: a copy of the file taken while the writer is still
open (never closed, no trailer) is what the kill would leave.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest

from recordings.events import Opened
from recordings.recorder import Recorder
from recordings.writer import SegmentWriter
from signaling.events import Participant, TrackStarted
from tests.recording_media import opus_clip, rtp_stream, vp8_clip

FPS = {"video": 30, "audio": 50}
# What the writer itself may still hold when killed: 0.3 s (its open cluster, and the frame
# that would close it). With the recorder's 0.5 s batches a kill loses at most 0.8 s.
HELD_FRAMES = {kind: fps * 3 // 10 + 1 for kind, fps in FPS.items()}


def _decode(path: Path) -> list[bytes]:
    """Packets of the file that decode (PyAV opens and decodes it, as a player would)."""
    payloads = []
    with av.open(str(path)) as container:
        stream = container.streams[0]
        for packet in container.demux(stream):
            if packet.size and packet.decode():
                payloads.append(bytes(packet))
    return payloads


def _clip(kind: str, seconds: float) -> list:
    return list(vp8_clip(seconds) if kind == "video" else opus_clip(seconds))


@pytest.mark.parametrize("kind", ["video", "audio"])
def test_a_writer_killed_after_0_8_s_leaves_a_file_that_decodes(tmp_path: Path, kind: str):
    frames = _clip(kind, 0.8)
    writer = SegmentWriter(
        tmp_path / "seg.webm", kind, started_at=datetime.now(UTC), width=320, height=240
    )
    for unit in frames:
        writer.write(unit.data, unit.pts, unit.keyframe)
    shutil.copyfile(tmp_path / "seg.webm", tmp_path / "killed.webm")  # never closed
    decoded = _decode(tmp_path / "killed.webm")
    assert decoded, "a file cut 0.8 s into its segment must decode"
    assert decoded == [u.data for u in frames[: len(decoded)]], "from the first frame on"
    assert len(decoded) >= len(frames) - HELD_FRAMES[kind]
    writer.close()


async def test_recorder_batch_on_disk_decodes_from_the_first_frame(tmp_path: Path):
    """Through the recorder and its disk thread: once a batch has been written, a kill
    loses at most the writer's open cluster of each segment opened in it."""
    events: list = []
    recorder = Recorder(tmp_path, wants=lambda s, p: True, events=events.append)
    recorder.start()
    who = Participant("peer1", "张三", "party", party_id=1)
    tracks = {
        "video": TrackStarted(7, "7:main", who, "camera", "video", "VP8", 90000),
        "audio": TrackStarted(7, "7:main", who, "microphone", "audio", "opus", 48000),
    }
    clips = {kind: _clip(kind, 0.8) for kind in tracks}
    for kind, started in tracks.items():
        sink = recorder.on_track_start(started)
        for packet in rtp_stream(tuple(clips[kind]), kind):
            sink(packet)
    await recorder.flush_barrier()  # the batch is muxed and its bytes are in the kernel
    opened = [e for e in events if isinstance(e, Opened)]
    assert sorted(e.kind for e in opened) == ["audio", "video"]
    for event in opened:
        killed = tmp_path / f"killed-{event.kind}.webm"
        shutil.copyfile(tmp_path / event.relpath, killed)
        decoded = _decode(killed)
        clip = clips[event.kind]
        assert decoded == [u.data for u in clip[: len(decoded)]]
        assert len(decoded) >= len(clip) - HELD_FRAMES[event.kind], event.kind
    await recorder.stop()
