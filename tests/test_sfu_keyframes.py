"""Keyframes and loss: subscribers' PLI/FIR reach the publisher rate-limited, NACKs are
answered from the SFU's packet ring, and a subscriber whose network backs up has a bounded
send queue: the SFU drops, asks for a keyframe, and resumes on one."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiortc.rtp import RTCP_PSFB_PLI, RTCP_RTPFB_NACK, RtcpPsfbPacket, RtcpRtpfbPacket

from signaling.sfu import Sfu
from signaling.sfu.aiortc_hook.sending import SendLink, send_link
from signaling.sfu.aiortc_hook.transceivers import dtls_transport, intercept_sender_rtcp
from signaling.sfu.inbound import KEYFRAME_INTERVAL
from signaling.sfu.media import vp8_descriptor_size, vp8_keyframe_start
from tests.media_clips import clip_frames
from tests.sfu_peers import Client, clip_tracks, small_clips
from tests.waiting import wait_for

QUEUE_BOUND = 20_000


@pytest.fixture
async def sfu() -> AsyncIterator[Sfu]:
    s = Sfu(ice_servers=[], max_queue_bytes=QUEUE_BOUND)
    yield s
    await s.close()


async def _pair(sfu: Sfu) -> tuple[Client, Client, list[float]]:
    """alice publishes, bob subscribes; returns the times alice received a PLI."""
    alice, bob = Client(sfu, "alice", clip_tracks()), Client(sfu, "bob")
    for c in (alice, bob):
        await c.join()
        await sfu.set_room(c.id, "main")
    plis: list[float] = []

    def on_rtcp(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_PLI:
            plis.append(time.monotonic())

    camera_sender = alice.pc.getTransceivers()[1].sender
    intercept_sender_rtcp(camera_sender, on_rtcp)

    def flowing() -> bool:
        return bob.count_of("alice", "camera") >= 30

    await wait_for(flowing)
    return alice, bob, plis


def _send_rtcp(client: Client, packet: Any) -> None:
    link = send_link(dtls_transport(client.pc))
    assert link is not None
    link.send_rtcp(bytes(packet))


async def test_pli_reaches_publisher_rate_limited(sfu: Sfu) -> None:
    alice, bob, plis = await _pair(sfu)
    try:
        ssrc = bob.runs_of("alice", "camera")[-1][-1].ssrc
        sent = 0
        seen = len(plis)
        for _ in range(3):  # three bursts of ten requests
            for _ in range(10):
                _send_rtcp(bob, RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=ssrc))
                sent += 1
            target = len(plis) + 1

            def publisher_asked(target: int = target) -> bool:
                return len(plis) >= target

            await wait_for(publisher_asked)
        got = plis[seen:]
        assert 3 <= len(got) < sent / 3
        gaps = [b - a for a, b in itertools.pairwise(plis)]
        assert min(gaps) >= 0.8 * KEYFRAME_INTERVAL, gaps
        assert sfu.stats()["alice"]["published"]["camera"]["keyframe_requests"] == len(plis)
    finally:
        for c in (alice, bob):
            await c.close()


class LossyNetwork:
    """The outside world: a UDP path that loses one video packet (the next one with ``pt``)."""

    def __init__(self, real: Any, pt: int) -> None:
        self.real = real
        self.pt = pt
        self.lost_seq: int | None = None

    def sendto(self, data: bytes, addr: Any) -> None:
        if self.lost_seq is None and data[1] & 0x7F == self.pt and not data[1] & 0x80:
            self.lost_seq = int.from_bytes(data[2:4], "big")
            return
        self.real.sendto(data, addr)

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return bool(self.real.is_closing())


async def test_nack_is_answered_from_the_ring(sfu: Sfu) -> None:
    alice, bob, _ = await _pair(sfu)
    try:
        holder = sfu._peers["bob"].holder
        real = holder.link
        assert real is not None
        outlet = next(s.outlet for s in sfu._peers["bob"].slots if s.outlet and s.kind == "video")
        assert outlet is not None
        network = LossyNetwork(real.udp, outlet.pt)
        dtls = dtls_transport(sfu.peer_connection("bob"))
        holder.link = SendLink(dtls._tx_srtp, network, real.addr)  # type: ignore[arg-type]

        def lost_one() -> bool:
            return network.lost_seq is not None

        await wait_for(lost_one)
        lost = network.lost_seq
        assert lost is not None
        ssrc = bob.runs_of("alice", "camera")[-1][-1].ssrc
        nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=ssrc)
        nack.lost = [lost]
        _send_rtcp(bob, nack)

        def resent() -> bool:
            return any(p.sequence_number == lost for p in bob.runs_of("alice", "camera")[-1])

        await wait_for(resent)
        frame_ts = next(p for p in bob.runs_of("alice", "camera")[-1] if p.sequence_number == lost)
        parts = sorted(
            (p for p in bob.runs_of("alice", "camera")[-1] if p.timestamp == frame_ts.timestamp),
            key=lambda p: (p.sequence_number - lost + 0x8000) & 0xFFFF,
        )
        unique = {p.sequence_number: p.payload for p in parts}
        frame = b"".join(pl[vp8_descriptor_size(pl, 0) :] for pl in unique.values())
        # the frame that lost a packet is whole again, identical to the clip's frame
        assert frame in {data for data, _ in clip_frames(small_clips()["video"])}
        stats = sfu.stats()["bob"]["received"]
        assert sum(o["retransmits"] for o in stats) == 1
    finally:
        for c in (alice, bob):
            await c.close()


class CongestedNetwork:
    """The outside world: a UDP path that stops draining while ``congested`` is set, as a
    saturated uplink does; what the SFU sends meanwhile sits in this buffer."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.congested = True
        self.queue: deque[tuple[bytes, Any]] = deque()
        self.peak = 0

    def sendto(self, data: bytes, addr: Any) -> None:
        if self.congested:
            self.queue.append((data, addr))
            self.peak = max(self.peak, self.get_write_buffer_size())
        else:
            self.real.sendto(data, addr)

    def get_write_buffer_size(self) -> int:
        return sum(len(d) for d, _ in self.queue)

    def is_closing(self) -> bool:
        return bool(self.real.is_closing())

    def drain(self) -> None:
        self.congested = False
        while self.queue:
            self.real.sendto(*self.queue.popleft())


async def test_slow_subscriber_queue_is_bounded_then_resumes_at_keyframe(sfu: Sfu) -> None:
    alice, bob, plis = await _pair(sfu)
    try:
        holder = sfu._peers["bob"].holder
        real = holder.link
        assert real is not None
        network = CongestedNetwork(real.udp)
        dtls = dtls_transport(sfu.peer_connection("bob"))
        holder.link = SendLink(dtls._tx_srtp, network, real.addr)  # type: ignore[arg-type]
        outlet = next(s.outlet for s in sfu._peers["bob"].slots if s.outlet and s.kind == "video")
        assert outlet is not None

        drops_before, gated_before = outlet.drops, outlet.gated

        def dropping() -> bool:
            # one packet dropped at the bound, then everything held back until a keyframe
            return outlet.drops > drops_before and outlet.gated >= gated_before + 50

        await wait_for(dropping)
        assert outlet.waiting
        # bounded: never more than the limit plus the one packet that crossed it
        assert network.peak <= QUEUE_BOUND + 1500
        asked = len(plis)
        last_buffered = max(
            (int.from_bytes(d[2:4], "big") for d, _ in network.queue if d[1] & 0x7F == outlet.pt),
            key=lambda s: (s - outlet.next_seq + 0x8000) & 0xFFFF,
        )
        network.drain()

        def resumed() -> bool:
            run = bob.runs_of("alice", "camera")[-1]
            return any(p.sequence_number == (last_buffered + 1) & 0xFFFF for p in run)

        await wait_for(resumed)
        first = next(
            p
            for p in bob.runs_of("alice", "camera")[-1]
            if p.sequence_number == (last_buffered + 1) & 0xFFFF
        )
        assert vp8_keyframe_start(first.payload, 0)
        assert len(plis) >= asked  # keyframe requested while dropping (rate-limited)
        assert sfu.stats()["alice"]["published"]["camera"]["keyframe_requests"] >= 2
        await asyncio.sleep(0)
    finally:
        for c in (alice, bob):
            await c.close()


class _QuietTap:
    """A tap that only counts: what a recorder looks like to the SFU."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def on_track_start(
        self, peer_id: str, room: str, track_id: str, kind: str, label: str, codec: str
    ) -> Callable[[Any], None]:
        self.started.append(track_id)
        return self.drop

    def drop(self, packet: Any) -> None:
        pass

    def on_track_end(self, peer_id: str, track_id: str, reason: str) -> None:
        pass


async def test_a_tap_starting_on_a_track_asks_the_publisher_for_a_keyframe(sfu: Sfu) -> None:
    # A recorder can only begin a video file at a keyframe; browsers send them rarely.
    alice, bob, plis = await _pair(sfu)
    try:
        await asyncio.sleep(KEYFRAME_INTERVAL)  # past the rate limit of the join's request
        before = len(plis)
        tap = _QuietTap()
        sfu.add_tap(tap)
        assert "alice:camera" in tap.started

        def asked() -> bool:
            return len(plis) > before

        await wait_for(asked)
    finally:
        for c in (alice, bob):
            await c.close()


async def test_request_keyframes_reaches_the_named_publishers_only(sfu: Sfu) -> None:
    alice, bob, plis = await _pair(sfu)
    try:
        await asyncio.sleep(KEYFRAME_INTERVAL)
        before = len(plis)
        sfu.request_keyframes(["bob", "nobody"])  # bob publishes nothing; unknown ids ignored
        await asyncio.sleep(0.3)
        assert len(plis) == before
        sfu.request_keyframes(["alice"])

        def asked() -> bool:
            return len(plis) > before

        await wait_for(asked)
        requests = sfu.stats()["alice"]["published"]["camera"]["keyframe_requests"]
        sfu.request_keyframes(["alice"])  # again at once: held by the rate limit, then sent
        assert sfu.stats()["alice"]["published"]["camera"]["keyframe_requests"] == requests
    finally:
        for c in (alice, bob):
            await c.close()
