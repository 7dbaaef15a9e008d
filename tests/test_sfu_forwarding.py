"""Pass-through forwarding: subscribers get the publisher's encoded frames byte for byte, and
the server never creates a decoder or an encoder for a forwarded track."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
import pytest
from aiortc.contrib.media import MediaPlayer

from signaling.sfu import Sfu
from tests.media_clips import clip_frames, make_opus_clip, make_vp8_clip
from tests.sfu_peers import Client
from tests.waiting import wait_for


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("clips")
    return {
        "video": make_vp8_clip(base / "clip.webm", frames=120, gop=15),
        "audio": make_opus_clip(base / "tone.ogg", seconds=4.0),
    }


@pytest.fixture
def codec_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[Any]]]:
    """Record who asks aiortc for a decoder or an encoder (the caller's ``self``)."""
    calls: dict[str, list[Any]] = {"decoder": [], "encoder": []}
    real_decoder = aiortc.rtcrtpreceiver.get_decoder
    real_encoder = aiortc.rtcrtpsender.get_encoder

    def get_decoder(codec: Any) -> Any:
        calls["decoder"].append(sys._getframe(1).f_locals.get("self"))
        return real_decoder(codec)

    def get_encoder(codec: Any) -> Any:
        calls["encoder"].append(sys._getframe(1).f_locals.get("self"))
        return real_encoder(codec)

    monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", get_decoder)
    monkeypatch.setattr(aiortc.rtcrtpsender, "get_encoder", get_encoder)
    yield calls


def _is_contiguous_run(got: list[bytes], sent: list[tuple[bytes, bool]]) -> int:
    """Index in ``sent`` where ``got`` starts as an unbroken run at a keyframe, else -1."""
    for start, (data, key) in enumerate(sent):
        if key and data == got[0]:
            return start if [d for d, _ in sent[start : start + len(got)]] == got else -1
    return -1


async def test_subscribers_get_identical_frames_and_server_never_codes(
    sfu: Sfu, clips: dict[str, Path], codec_calls: dict[str, list[Any]]
) -> None:
    video = MediaPlayer(str(clips["video"]), decode=False)
    audio = MediaPlayer(str(clips["audio"]), decode=False)
    publisher = Client(sfu, "alice", [audio.audio, video.video])
    subscribers = [Client(sfu, "bob"), Client(sfu, "carol")]
    everyone = [publisher, *subscribers]
    try:
        for c in everyone:
            await c.join()
            await sfu.set_room(c.id, "main")

        def clip_played_out() -> bool:
            return video.video.readyState == "ended" and audio.audio.readyState == "ended"

        await wait_for(clip_played_out, within=30)
        sent_video = clip_frames(clips["video"])
        sent_audio = clip_frames(clips["audio"])

        def last_frame_delivered() -> bool:  # the player ends before its last packets land
            return all(
                [f.data for f in sub.got("alice", "camera").frames("VP8")][-1:]
                == [sent_video[-1][0]]
                and [f.data for f in sub.got("alice", "audio").frames("opus")][-1:]
                == [sent_audio[-1][0]]
                for sub in subscribers
            )

        await wait_for(last_frame_delivered)
        for sub in subscribers:
            got = [f.data for f in sub.got("alice", "camera").frames("VP8")]
            assert len(got) >= 60, f"{sub.id} got only {len(got)} of {len(sent_video)} frames"
            start = _is_contiguous_run(got, sent_video)
            assert start >= 0, f"{sub.id}: frames differ from the clip's"
            assert start + len(got) == len(sent_video)  # nothing lost up to the clip's end
            opus = [f.data for f in sub.got("alice", "audio").frames("opus")]
            assert len(opus) >= 150
            joined = b"".join(d for d, _ in sent_audio)
            assert all(p in joined for p in opus)
            assert [d for d, _ in sent_audio][-len(opus) :] == opus
        # The publisher packs its clip (an aiortc "encoder" that only packetizes); nothing on
        # the server may ask for a codec, and no one decodes at all.
        publisher_senders = set(publisher.pc.getSenders())
        assert codec_calls["decoder"] == []
        assert codec_calls["encoder"], "the wrapper saw nothing: the test would prove nothing"
        assert all(caller in publisher_senders for caller in codec_calls["encoder"])
        stats = sfu.stats()
        assert stats["alice"]["published"]["camera"]["subscribers"] == 2
        assert stats["bob"]["received"]
        assert all(
            o["drops"] == 0 or o["waiting_keyframe"] is False for o in stats["bob"]["received"]
        )
    finally:
        for c in everyone:
            await c.close()
