"""The writer and the tap on a synthetic stream: RTP in, WebM out, same frames, no codec."""

from __future__ import annotations

import asyncio
import errno
import gc
import shutil
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest
from av.codec.context import CodecContext

from recordings.crash import finalize
from recordings.events import Alarm, Closed, Opened
from recordings.recorder import Recorder
from recordings.rtp import Vp8Assembler, parse_rtp, view_of, vp8_keyframe_size
from recordings.writer import SegmentWriter
from signaling.events import Participant, TrackStarted
from tests.recording_media import decoded_frames, opus_clip, rtp_stream, vp8_clip


def _codec_contexts() -> list[CodecContext]:
    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, CodecContext)]


def test_rtp_header_parsing_matches_aiortc():
    packet = rtp_stream(vp8_clip()[:1], "video")[0]
    view = parse_rtp(packet.serialize())
    assert (view.payload, view.timestamp, view.marker, view.sequence_number) == (
        packet.payload,
        packet.timestamp,
        bool(packet.marker),
        packet.sequence_number,
    )


def test_vp8_reassembly_gives_back_each_frame_and_drops_broken_ones():
    clip = vp8_clip()
    packets = rtp_stream(clip, "video")
    asm = Vp8Assembler()
    frames = [f for p in packets if (f := asm.push(view_of(p))) is not None]
    assert [f.data for f in frames] == [u.data for u in clip]
    assert frames[0].keyframe and (frames[0].width, frames[0].height) == (320, 240)
    assert vp8_keyframe_size(clip[1].data) is None

    # Lose one packet in the middle of a multi-packet frame: that frame, and only it, goes.
    big = next(i for i, u in enumerate(clip) if len(u.data) > 1200)
    asm = Vp8Assembler()
    skip = sum(len(u.data) // 1100 + 1 for u in clip[:big])
    frames = [f for i, p in enumerate(packets) if i != skip and (f := asm.push(view_of(p)))]
    # The frames after the gap wait for the lost packet to be resent; when the track ends,
    # the flush gives them up and assembles what came.
    frames += asm.flush()
    assert len(frames) == len(clip) - 1 and asm.lost_frames == 1


def test_writer_remuxes_without_any_codec(tmp_path: Path):
    before = len(_codec_contexts())
    clip = vp8_clip()
    writer = SegmentWriter(
        tmp_path / "v.webm",
        "video",
        started_at=datetime(2026, 11, 27, 2, tzinfo=UTC),
        width=320,
        height=240,
        tags={"segment": "abc"},
    )
    for unit in clip:
        writer.write(unit.data, (4294960000 + unit.pts) & 0xFFFFFFFF, unit.keyframe)
    assert len(_codec_contexts()) == before, "the writer must not create a codec context"
    stats = writer.close()
    assert stats.frames == len(clip)
    decoded, payloads, seconds = decoded_frames(str(tmp_path / "v.webm"))
    assert payloads == [u.data for u in clip] and decoded == len(clip)
    assert abs(seconds - 3.0) < 0.06
    with av.open(str(tmp_path / "v.webm")) as c:
        assert c.metadata["creation_time"].startswith("2026-11-27T02:00:00")
        assert c.metadata["COURTLINK_SEGMENT"] == "abc"


def test_a_file_cut_anywhere_still_plays_up_to_the_last_second(tmp_path: Path):
    clip = opus_clip(4.0)
    writer = SegmentWriter(tmp_path / "a.webm", "audio", started_at=datetime.now(UTC))
    for n, unit in enumerate(clip):
        writer.write(unit.data, unit.pts, True)
        if n == 150:  # 3.0 s written: copy what is on disk now, as a SIGKILL would leave it
            shutil.copyfile(tmp_path / "a.webm", tmp_path / "cut.webm")
    writer.close()
    decoded, _, seconds = decoded_frames(str(tmp_path / "cut.webm"))
    assert decoded > 0 and seconds >= 3.0 - 1.5


def _assert_playable_opus(path: Path, frames: int) -> None:
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        head = stream.codec_context.extradata or b""
        assert head[:8] == b"OpusHead", "an Opus track needs its OpusHead as CodecPrivate"
        assert head[9] == 2 and int.from_bytes(head[12:16], "little") == 48000
        assert stream.codec_context.channels == 2
        samples = sum(f.samples for p in c.demux(stream) for f in p.decode())
    # 20 ms per frame at 48 kHz, less the pre-skip the decoder drops at the start
    pre_skip = int.from_bytes(head[10:12], "little")
    assert samples == frames * 960 - pre_skip


def test_opus_segments_carry_an_opus_head_and_decode(tmp_path: Path):
    clip = opus_clip()
    writer = SegmentWriter(tmp_path / "a.webm", "audio", started_at=datetime.now(UTC))
    for unit in clip:
        writer.write(unit.data, unit.pts, True)
    writer.close()
    _assert_playable_opus(tmp_path / "a.webm", len(clip))

    # crash recovery remuxes a cut file: the OpusHead must survive it too
    writer = SegmentWriter(tmp_path / "cut.webm", "audio", started_at=datetime.now(UTC))
    for unit in opus_clip(4.0):
        writer.write(unit.data, unit.pts, True)
    shutil.copyfile(tmp_path / "cut.webm", tmp_path / "kept.webm")
    writer.close()
    kept, error = finalize(tmp_path / "kept.webm")
    assert not error and kept > 0
    _assert_playable_opus(tmp_path / "kept.webm", kept)


def test_disk_full_is_an_error_with_enospc(tmp_path: Path):
    writer = SegmentWriter(Path("/dev/full"), "audio", started_at=datetime.now(UTC))
    with pytest.raises(OSError) as info:
        for unit in opus_clip():
            writer.write(unit.data, unit.pts, True)
    assert info.value.errno == errno.ENOSPC


PEER1 = Participant("peer1", "张三", "party", party_id=1)


def _started(kind: str, room: str) -> TrackStarted:
    """What the hub tells the recorder when peer1's camera or microphone starts in ``room``."""
    if kind == "video":
        return TrackStarted(7, room, PEER1, "camera", "video", "VP8", 90000)
    return TrackStarted(7, room, PEER1, "microphone", "audio", "opus", 48000)


async def _feed(recorder: Recorder, streams: dict[str, list], room: str = "7:main") -> None:
    sinks = {
        track: recorder.on_track_start(_started(kind, room))
        for track, (kind, _packets) in streams.items()
    }
    longest = max(len(p) for _, p in streams.values())
    for i in range(longest):
        for track, (_, packets) in streams.items():
            if i < len(packets):
                sinks[track](packets[i])
    await recorder.flush_barrier()


async def test_tap_writes_segments_and_splits_on_resolution_and_room(tmp_path: Path):
    events: list = []
    recorder = Recorder(tmp_path, wants=lambda s, p: True, events=events.append)
    recorder.start()
    small, large = vp8_clip(), vp8_clip(1.0, width=480, height=360)
    video = rtp_stream(small, "video") + rtp_stream(
        large, "video", seq0=(65000 + 10_000), ts0=400_000
    )
    audio = [p.serialize() for p in rtp_stream(opus_clip(), "audio")]  # raw bytes work too
    await _feed(recorder, {"v": ("video", video), "a": ("audio", audio)})
    recorder.on_track_start(_started("audio", "7:caucus-a"))
    await _feed(
        recorder,
        {"a": ("audio", [p.serialize() for p in rtp_stream(opus_clip(1.0), "audio")])},
        room="7:caucus-a",
    )
    await recorder.stop()
    await asyncio.sleep(0)
    opened = [e for e in events if isinstance(e, Opened)]
    closed = {e.uid: e for e in events if isinstance(e, Closed)}
    assert not [e for e in events if isinstance(e, Alarm)]
    # Tracks are written in batches, so segments of different tracks open in no fixed order.
    video = [e for e in opened if e.kind == "video"]
    audio = [e for e in opened if e.kind == "audio"]
    assert [(e.width, e.room) for e in video] == [(320, "7:main"), (480, "7:main")]
    assert [(e.width, e.room) for e in audio] == [(0, "7:main"), (0, "7:caucus-a")]
    assert [closed[e.uid].reason for e in video] == ["resolution", "shutdown"]
    assert [closed[e.uid].reason for e in audio] == ["room_move", "shutdown"]
    files = {e.uid: decoded_frames(str(tmp_path / e.relpath)) for e in opened}
    assert files[video[0].uid][1] == [u.data for u in small]
    assert files[video[1].uid][1] == [u.data for u in large]
    assert files[audio[0].uid][1] == [u.data for u in opus_clip()]
    assert files[audio[1].uid][1] == [u.data for u in opus_clip(1.0)]
    assert recorder.recorded_frames == len(small) + len(large) + len(opus_clip()) + len(
        opus_clip(1.0)
    )


async def test_low_disk_stops_recording_with_an_alarm(tmp_path: Path):
    events: list = []
    recorder = Recorder(
        tmp_path,
        wants=lambda s, p: True,
        events=events.append,
        min_free_bytes=1 << 62,
    )
    recorder.start()
    await _feed(recorder, {"a": ("audio", rtp_stream(opus_clip(), "audio"))})
    await recorder.stop()
    alarms = [e for e in events if isinstance(e, Alarm)]
    assert alarms and alarms[0].reason == "disk_full" and alarms[0].session_id == 7
    assert not [e for e in events if isinstance(e, Opened)]
