"""Audio on a lossy downlink is sent twice (signaling/sfu/outlet.py, downlink.py): the
downlink turns it on when its video reports a few per cent lost and off once the link is
clean for a while; the copy is the same packet (sequence number, timestamp, bytes) a little
later; and the copies are paid for from the video's budget."""

from __future__ import annotations

import asyncio
from typing import Any

from signaling.sfu.allocation import COPY_AFTER_S, allocate
from signaling.sfu.downlink import PROTECT_CLEAR_S, Downlink
from signaling.sfu.inbound import InboundTrack
from signaling.sfu.outlet import LinkHolder, Outlet
from tests.test_sfu_simulcast import Audio, room_of


class Link:
    def __init__(self) -> None:
        self.sent: list[tuple[int, int, int, bytes, float]] = []

    def forward(self, b0: int, b1: int, seq: int, ts: int, ssrc: int, payload: Any, _q: int):
        self.sent.append((seq, ts, ssrc, bytes(payload), asyncio.get_running_loop().time()))
        return True


def _seconds(down: Downlink, start: int, n: int, lost: int, packets: list[int]) -> None:
    """``n`` seconds of reports: ``lost`` of 256 on a video stream, none on audio."""
    for second in range(start, start + n):
        packets[0] += 300
        packets[1] += 50
        down.report(1, lost, packets[0], video=True)
        down.report(2, 0, packets[1], video=False)
        down.update(float(second), second * 60_000)


def test_a_lossy_link_gets_audio_twice_and_a_clean_one_once_again() -> None:
    down = Downlink()
    down.update(0.0, 0)
    down.report(1, 0, 0, video=True)
    down.report(2, 0, 0, video=False)
    packets = [0, 0]
    _seconds(down, 1, 3, 0, packets)
    assert not down.protect_audio  # a clean link
    _seconds(down, 4, 3, 8, packets)  # 3 % of the video lost
    assert down.protect_audio
    # The audio's own reports now read clean (the copies fill its gaps): that changes
    # nothing while the video still loses.
    _seconds(down, 7, 5, 8, packets)
    assert down.protect_audio
    _seconds(down, 12, int(PROTECT_CLEAR_S) - 2, 0, packets)
    assert down.protect_audio  # clean, but not for long enough
    _seconds(down, 20, 3, 0, packets)
    assert not down.protect_audio


def test_the_copies_are_paid_for_from_the_video() -> None:
    room = room_of(3)
    outlets = [o for _, o in room]
    audio = [Audio(40_000) for _ in range(3)]
    for a in audio:
        a.copy_after = 0.0
    down = Downlink()
    down.estimate = 520_000  # 120 kb/s audio, three lowest layers at 100 kb/s: all fit
    allocate(down, audio, outlets)
    assert [o.target for o in outlets] == [2, 2, 2]
    assert all(a.copy_after == 0.0 for a in audio)
    down.protect_audio = True  # 240 kb/s of audio now: two pictures fit
    allocate(down, audio, outlets)
    assert sorted(o.target for o in outlets if o.target is not None) == [2, 2]
    assert all(a.copy_after == COPY_AFTER_S for a in audio)


async def test_the_copy_is_the_same_packet_a_little_later() -> None:
    track = InboundTrack(
        "s1-p2", "audio", "audio", 77, send_pli=lambda s: None, on_first_packet=lambda t: None
    )
    link, holder = Link(), LinkHolder()
    holder.link = link  # type: ignore[assignment]
    outlet = Outlet(track, "s1-p1", holder, ssrc=900, payload_type=111)
    loop = asyncio.get_running_loop()
    outlet.send(0x80, 0x80 | 111, memoryview(b"opus-1"), 100, 960, False, loop.time())
    assert len(link.sent) == 1 and outlet.copies == 0  # no copies on a clean link
    outlet.copy_after = COPY_AFTER_S
    outlet.send(0x80, 111, memoryview(b"opus-2"), 101, 1920, False, loop.time())
    assert len(link.sent) == 2
    await asyncio.sleep(COPY_AFTER_S * 3)
    assert len(link.sent) == 3 and outlet.copies == 1
    first, copy = link.sent[1], link.sent[2]
    assert first[:4] == copy[:4]  # sequence number, timestamp, SSRC and bytes
    assert copy[4] - first[4] >= COPY_AFTER_S * 0.9
    # A connection replaced before the copy is due: the copy is not sent on the new one.
    outlet.send(0x80, 111, memoryview(b"opus-3"), 102, 2880, False, loop.time())
    holder.link = Link()  # type: ignore[assignment]
    await asyncio.sleep(COPY_AFTER_S * 3)
    assert len(link.sent) == 4 and holder.link.sent == []  # type: ignore[union-attr]
