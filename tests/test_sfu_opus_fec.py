"""Opus in-band FEC instead of copies (signaling/sfu/opus.py): the SFU reads the LBRR flag of
real libopus packets without decoding them; a lossy subscriber gets no copies of a stream
that carries FEC, and the video gets the bitrate back; the publisher is told its
subscribers' loss (capped), which is what makes its encoder add FEC; and the SFU's offer
asks for ``useinbandfec=1``."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest
from _media_clip import read_frames, voice_clip

from signaling.sfu.allocation import COPY_AFTER_S, allocate
from signaling.sfu.downlink import Downlink
from signaling.sfu.inbound import FEC_FRESH_S, InboundTrack
from signaling.sfu.opus import FEC_LOSS_CAP, has_fec, loss_to_report, offer_fec
from signaling.sfu.outlet import LinkHolder, Outlet
from tests.test_sfu_simulcast import Audio, room_of


def _opus(cache: Path, *, fec: bool) -> list[bytes]:
    """Three seconds of the bench's voiced sound (``_media_clip.VOICE``: SILK's voice
    detector takes it for speech, and LBRR is coded for speech only, a plain tone is not),
    encoded by libopus as a browser's encoder would, with or without in-band FEC."""
    return [packet for packet, _ in read_frames(voice_clip(cache, seconds=3, fec=fec))]


def test_the_lbrr_flag_is_read_from_real_opus_packets(tmp_path: Path) -> None:
    plain = _opus(tmp_path, fec=False)
    fec = _opus(tmp_path, fec=True)
    assert len(plain) == len(fec) >= 140
    assert not any(has_fec(p) for p in plain)
    # Voiced frames carry the previous frame again; the first and the quiet ones do not.
    assert sum(has_fec(p) for p in fec) > 0.7 * len(fec)


@pytest.mark.parametrize(
    ("packet", "expected"),
    [
        (bytes([9 << 3, 0x40, 0]), True),  # SILK wideband 20 ms, one frame: VAD, then LBRR
        (bytes([9 << 3, 0x80, 0]), False),  # voice, no LBRR
        (bytes([10 << 3, 0x20, 0]), True),  # SILK 40 ms: two VAD flags before LBRR
        (bytes([10 << 3, 0x40, 0]), False),
        (bytes([15 << 3 | 1, 0x40, 0]), True),  # hybrid 20 ms, two equal frames
        (bytes([9 << 3 | 2, 0x40, 0]), False),  # two different frames: not read
        (bytes([31 << 3, 0xFF, 0]), False),  # CELT only: no LBRR at all
        (bytes([9 << 3]), False),  # no frame
    ],
)
def test_the_flag_by_configuration(packet: bytes, expected: bool) -> None:
    assert has_fec(packet) is expected


def _audio_track() -> InboundTrack:
    return InboundTrack(
        "s1-p2", "audio", "audio", 77, send_pli=lambda s: None, on_first_packet=lambda t: None
    )


def _opus_rtp(seq: int, payload: bytes) -> bytes:
    return struct.pack("!BBHII", 0x80, 111, seq, seq * 960, 77) + payload


def test_an_audio_track_knows_it_carries_fec() -> None:
    track = _audio_track()
    track.on_rtp(_opus_rtp(1, bytes([9 << 3, 0x80, 1, 2])))
    assert not track.carries_fec
    track.on_rtp(_opus_rtp(2, bytes([9 << 3, 0xC0, 1, 2])))
    assert track.carries_fec
    track.fec_at = time.monotonic() - FEC_FRESH_S - 0.1  # none since: a publisher that stopped
    assert not track.carries_fec


def test_a_stream_with_fec_is_not_copied_and_the_video_gets_the_room() -> None:
    room = room_of(3)
    outlets = [o for _, o in room]
    audio = [Audio(40_000) for _ in range(3)]
    down = Downlink()
    down.estimate = 520_000  # 120 kb/s of audio and three lowest layers at 100 kb/s
    down.protect_audio = True
    allocate(down, audio, outlets)
    assert all(a.copy_after == COPY_AFTER_S for a in audio)
    assert sorted(o.target for o in outlets if o.target is not None) == [2, 2]
    for a in audio:
        a.track.carries_fec = True
    allocate(down, audio, outlets)
    assert all(a.copy_after == 0.0 for a in audio)
    assert [o.target for o in outlets] == [2, 2, 2]


def test_the_publisher_hears_of_its_subscribers_loss() -> None:
    track = _audio_track()
    clean, lossy = LinkHolder(), LinkHolder()
    for n, holder in enumerate((clean, lossy)):
        track.add_outlet(Outlet(track, f"s1-p{n + 3}", holder, ssrc=900 + n, payload_type=111))
    down_clean, down_lossy = Downlink(), Downlink()
    down_lossy.link_loss = 0.03
    allocate(down_clean, [track.outlets[0]], [])
    allocate(down_lossy, [track.outlets[1]], [])
    assert track.downstream_loss == pytest.approx(0.03)
    assert loss_to_report(track.downstream_loss) == int(0.03 * 256)
    # Under 1 % is left alone; a link losing a fifth is reported at the cap, not as a fifth.
    assert loss_to_report(0.005) == 0
    assert loss_to_report(0.2) == int(FEC_LOSS_CAP * 256)


OFFER = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 96 0\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"
    "a=rtpmap:96 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"
    "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 97\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\n"
    "a=rtpmap:97 VP8/90000\r\n"
)


def test_the_offer_asks_for_fec_on_every_opus_line() -> None:
    sdp = offer_fec(OFFER)
    assert "a=rtpmap:96 opus/48000/2\r\na=fmtp:96 minptime=10;useinbandfec=1\r\n" in sdp
    assert "a=fmtp:111 minptime=10;useinbandfec=1\r\n" in sdp
    assert sdp.count("useinbandfec") == 2  # not on PCMU, not on the video
    assert offer_fec(sdp) == sdp  # asked once
