"""Recording what the SFU forwards: real in-process aiortc peers, participants of the running
app's hub, publish a known pre-encoded VP8/Opus clip through its pass-through SFU; the
recording service (the app's own, on its database, told by the hub's events) writes it; the
files hold the same frames byte for byte, last as long as the clip does, are sealed when
the session ends, and no codec was created."""

from __future__ import annotations

import gc

import pytest
from av.codec.context import CodecContext
from sqlalchemy import select

from recordings import paths
from server.live import HUB, RECORDINGS
from server.models.recordings import Recording
from server.web.keys import SESSIONMAKER, SETTINGS
from tests.hub_peers import HubPeer
from tests.media_clips import clip_frames
from tests.recording_db import case_with_session
from tests.recording_media import decoded_frames
from tests.sfu_peers import ClipTrack, small_clips
from tests.waiting import wait_for


def _encoders() -> list[CodecContext]:
    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, CodecContext) and o.is_encoder]


# A two-second clip must reach a subscriber negotiated while it plays: beside three busy
# workers the negotiation took longer than the clip (seen in two xdist runs).
@pytest.mark.serial
async def test_forwarded_clip_is_recorded_frame_for_frame(client):
    app = client.app
    service = app[RECORDINGS]
    hub = app[HUB]
    _, session_id = await case_with_session(client, status="open")
    await service.session_opened(session_id)
    clips = small_clips()
    video, audio = ClipTrack(clips["video"], loop=False), ClipTrack(clips["audio"], loop=False)
    viewer = HubPeer(hub, session_id, name="王调解员", role="host", user_id=2)
    publisher = HubPeer(
        hub, session_id, name="张三", role="party", party_id=1, tracks=[audio, video]
    )
    encoders_before = len(_encoders())
    try:
        await viewer.join()
        await publisher.join()
        await viewer.send("admit", pid=publisher.pid)  # before its media has begun

        tracks = (video, audio)

        def clip_played_out() -> bool:
            return all(t.readyState == "ended" for t in tracks)

        await wait_for(clip_played_out, within=30)
        await service.drain()
        forwarded_video = viewer.client.got(publisher.pid, "camera").frames("VP8")
    finally:
        for c in (publisher, viewer):
            await c.close()
    await service.session_ended(session_id)
    # The publisher's aiortc sender holds an Opus "encoder" object of its own; with the
    # peers gone, any codec context still alive would be the server's.
    publisher = viewer = video = audio = tracks = None  # type: ignore[assignment]
    server_encoders = len(_encoders()) - encoders_before

    async with app[SESSIONMAKER]() as db:
        rec = await db.scalar(select(Recording).where(Recording.session_id == session_id))
        segments = {s.label: s for s in rec.segments}
    assert rec.sealed_at is not None and set(segments) == {"camera", "audio"}
    settings = app[SETTINGS]
    sent = {"camera": clip_frames(clips["video"]), "audio": clip_frames(clips["audio"])}
    for label, seg in segments.items():
        assert seg.participant == "张三" and seg.identity == "party:1" and seg.room == "main"
        decoded, payloads, seconds = decoded_frames(str(paths.inside(settings, seg.path)))
        clip = [d for d, _ in sent[label]]
        # The recording starts at the first keyframe the SFU forwarded and then holds every
        # frame, identical to the clip's, to its end.
        start = clip.index(payloads[0])
        assert payloads == clip[start:], f"{label}: recorded frames differ from the clip"
        assert len(payloads) >= 0.999 * len(clip[start:])
        assert decoded == len(payloads) and len(payloads) >= (50 if label == "camera" else 90)
        assert seg.frames == len(payloads) and seg.sha256 is not None
        clip_seconds = len(clip) / (30 if label == "camera" else 50)
        assert abs(seconds - clip_seconds) <= 0.02 * clip_seconds + 0.04
    # What the subscriber got is what was recorded (the same forwarded units).
    video_seg = segments["camera"]
    _, recorded, _ = decoded_frames(str(paths.inside(settings, video_seg.path)))
    got = [f.data for f in forwarded_video]
    assert got[-len(recorded) :] == recorded or recorded[-len(got) :] == got
    assert server_encoders == 0, "recording must not create an encoder"
