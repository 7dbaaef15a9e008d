"""Simulcast in the SFU, on raw RTP: the offer asks for three rid layers, a layer is known by
the rid in its first packet, a subscriber's outlet switches layers only at a keyframe of the
target and what it sends stays one stream (sequence numbers, timestamps, VP8 picture id and
TL0PICIDX each going on), a paused camera restarts at a keyframe, NACKs after a switch are
answered from the layer being sent; the downlink's loss-based estimate and the allocation
(audio first, tile size, low-bandwidth and audio-only modes, pause when nothing fits).

Browsers' real simulcast is in tests/e2e/test_simulcast.py; the send link here is a list
(the socket is not what these tests are about)."""

from __future__ import annotations

import itertools
import struct
import time
from typing import Any

import pytest

from signaling.sfu.allocation import allocate
from signaling.sfu.downlink import APP_LIMITED_HEADROOM_BPS, Downlink
from signaling.sfu.inbound import InboundTrack
from signaling.sfu.outlet import LinkHolder
from signaling.sfu.simulcast import (
    RID_EXT_ID,
    SimulcastTrack,
    answered_simulcast,
    offer_simulcast,
    rid_of,
)
from signaling.sfu.switching import SwitchingOutlet

OFFER = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=recvonly\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=recvonly\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=recvonly\r\n"
)


def rtp(seq: int, ts: int, *, ssrc: int = 1, pid: int = 0, tl0: int = 0, key: bool = False,
        start: bool = True, marker: bool = True, ext: bytes = b"") -> bytes:  # fmt: skip
    b0 = 0x90 if ext else 0x80
    header = struct.pack("!BBHII", b0, (0x80 if marker else 0) | 96, seq, ts, ssrc) + ext
    descriptor = bytes([0x90 if start else 0x80, 0xC0, 0x80 | pid >> 8, pid & 0xFF, tl0])
    return header + descriptor + bytes([0x00 if key else 0x01]) + b"frame"


class Link:
    def __init__(self) -> None:
        self.sent: list[tuple[int, int, int, bytes]] = []

    def forward(self, b0: int, b1: int, seq: int, ts: int, ssrc: int, payload: Any, _q: int):
        self.sent.append((seq, ts, ssrc, bytes(payload)))
        return True


def descriptor(payload: bytes) -> tuple[int, int]:
    """(picture id, TL0PICIDX) of a sent payload."""
    return ((payload[2] & 0x7F) << 8) | payload[3], payload[4]


def simulcast() -> tuple[SimulcastTrack, list[str]]:
    plis: list[str] = []
    ssrc_rid = {11: "h", 12: "m", 13: "l"}

    def layer(rid: str, ssrc: int, on_first: Any) -> InboundTrack:
        return InboundTrack(
            "s1-p1", "camera", "video", ssrc,
            send_pli=lambda s: plis.append(ssrc_rid[s]), on_first_packet=on_first,
        )  # fmt: skip

    track = SimulcastTrack("s1-p1", "camera", RID_EXT_ID, make_layer=layer,
                           on_first_packet=lambda t: None)  # fmt: skip
    return track, plis


def rid_ext(rid: str, ext_id: int = RID_EXT_ID) -> bytes:
    body = bytes([ext_id << 4 | (len(rid) - 1)]) + rid.encode()
    body += b"\0" * (-len(body) % 4)
    return struct.pack("!HH", 0xBEDE, len(body) // 4) + body


def learn_all(track: SimulcastTrack) -> dict[str, InboundTrack]:
    layers = {}
    for ssrc, rid in ((11, "h"), (12, "m"), (13, "l")):
        layer = track.learn(ssrc, rtp(0, 0, ssrc=ssrc, ext=rid_ext(rid)))
        assert layer is not None
        layers[rid] = layer
    return layers


def test_the_offer_asks_for_three_layers_of_the_camera_only() -> None:
    sdp = offer_simulcast(OFFER)
    sections = sdp.split("m=")
    assert "a=simulcast:recv h;m;l" in sections[2] and "a=rid:l recv" in sections[2]
    assert f"a=extmap:{RID_EXT_ID} urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id" in sections[2]
    assert "simulcast" not in sections[1] + sections[3]
    assert sdp.endswith("\r\n") and "\r\n\r\n" not in sdp


def test_an_answer_that_sends_simulcast_names_the_rid_extension() -> None:
    chromium = OFFER.replace(
        "a=mid:1\r\na=recvonly\r\n",
        "a=mid:1\r\na=sendonly\r\na=extmap:4 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n"
        "a=rid:h send\r\na=rid:m send\r\na=rid:l send\r\na=simulcast:send h;m;l\r\n",
    )
    firefox = chromium.replace("a=extmap:4 ", "a=extmap:4/sendonly ")
    assert answered_simulcast(chromium) == 4 and answered_simulcast(firefox) == 4
    assert answered_simulcast(OFFER) is None  # no simulcast: one stream, its SSRC signalled


def test_a_layer_is_known_by_the_rid_in_its_first_packet() -> None:
    assert rid_of(rtp(1, 1, ext=rid_ext("m")), RID_EXT_ID) == "m"
    assert rid_of(rtp(1, 1, ext=rid_ext("m")), RID_EXT_ID + 1) is None
    assert rid_of(rtp(1, 1), RID_EXT_ID) is None
    two_byte = struct.pack("!HH", 0x1000, 1) + bytes([RID_EXT_ID, 1]) + b"l\0"
    assert rid_of(rtp(1, 1, ext=two_byte), RID_EXT_ID) == "l"
    truncated = rtp(1, 1, ext=rid_ext("h"))[:15]
    assert rid_of(truncated, RID_EXT_ID) is None
    track, _ = simulcast()
    assert track.learn(99, rtp(1, 1, ext=rid_ext("x"))) is None
    assert track.learn(11, rtp(1, 1, ssrc=11, ext=rid_ext("h"))) is track.layers[0]


def test_a_switch_waits_for_a_keyframe_and_the_stream_goes_on() -> None:
    track, plis = simulcast()
    layers = learn_all(track)
    link = Link()
    holder = LinkHolder()
    holder.link = link  # type: ignore[assignment]
    outlet = SwitchingOutlet(track, "s1-p2", holder, ssrc=500, payload_type=96)
    track.add_outlet(outlet)
    outlet.retarget(0)
    assert plis == ["h"]  # the target layer is asked for a keyframe at once
    h, lo = layers["h"], layers["l"]
    h.on_rtp(rtp(1000, 90_000, ssrc=11, pid=7000, tl0=40, key=True))
    lo.on_rtp(rtp(5, 10, ssrc=13, pid=300, tl0=2, key=True))  # not the target: not sent
    h.on_rtp(rtp(1001, 93_000, ssrc=11, pid=7001, tl0=41))
    assert [s[0] - link.sent[0][0] for s in link.sent] == [0, 1]
    outlet.retarget(2)
    assert plis[-1] == "l"
    lo.on_rtp(rtp(6, 3010, ssrc=13, pid=301, tl0=3))  # l, but no keyframe: h goes on
    h.on_rtp(rtp(1002, 96_000, ssrc=11, pid=7002, tl0=42))
    assert len(link.sent) == 3 and outlet.current == 0 and outlet.waiting
    lo.on_rtp(rtp(7, 6010, ssrc=13, pid=302, tl0=4, key=True))  # the switch
    h.on_rtp(rtp(1003, 99_000, ssrc=11, pid=7003, tl0=43))  # h is no longer sent
    lo.on_rtp(rtp(8, 9010, ssrc=13, pid=303, tl0=5))
    assert outlet.current == 2 and not outlet.waiting and outlet.switches == 2
    seqs = [s[0] for s in link.sent]
    assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(5)]
    stamps = [s[1] for s in link.sent]
    assert all(0 < (b - a) & 0xFFFFFFFF < 90_000 for a, b in itertools.pairwise(stamps))
    assert stamps[4] - stamps[3] == 3000  # within a layer, the publisher's own spacing
    assert {s[2] for s in link.sent} == {500}
    pids = [descriptor(s[3]) for s in link.sent]
    first_pid, first_tl0 = pids[0]
    assert pids == [((first_pid + i) & 0x7FFF, (first_tl0 + i) & 0xFF) for i in range(5)]


def test_a_paused_camera_sends_nothing_and_restarts_at_a_keyframe() -> None:
    track, _ = simulcast()
    layers = learn_all(track)
    link, holder = Link(), LinkHolder()
    holder.link = link  # type: ignore[assignment]
    outlet = SwitchingOutlet(track, "s1-p2", holder, ssrc=500, payload_type=96)
    track.add_outlet(outlet)
    outlet.retarget(1)
    m = layers["m"]
    m.on_rtp(rtp(50, 0, ssrc=12, pid=10, key=True))
    outlet.retarget(None)
    m.on_rtp(rtp(51, 3000, ssrc=12, pid=11))
    m.on_rtp(rtp(52, 6000, ssrc=12, pid=12, key=True))
    assert len(link.sent) == 1
    outlet.retarget(1)
    m.on_rtp(rtp(53, 9000, ssrc=12, pid=13))  # not a keyframe: still waiting
    m.on_rtp(rtp(54, 12000, ssrc=12, pid=14, key=True))
    assert len(link.sent) == 2
    assert link.sent[1][0] == (link.sent[0][0] + 1) & 0xFFFF
    assert descriptor(link.sent[1][3])[0] == (descriptor(link.sent[0][3])[0] + 1) & 0x7FFF


def test_nacks_after_a_switch_come_from_the_layer_being_sent() -> None:
    track, _ = simulcast()
    layers = learn_all(track)
    link, holder = Link(), LinkHolder()
    holder.link = link  # type: ignore[assignment]
    outlet = SwitchingOutlet(track, "s1-p2", holder, ssrc=500, payload_type=96)
    track.add_outlet(outlet)
    outlet.retarget(0)
    layers["h"].on_rtp(rtp(100, 0, ssrc=11, pid=1, key=True))
    outlet.retarget(2)
    layers["l"].on_rtp(rtp(900, 0, ssrc=13, pid=50, key=True))
    layers["l"].on_rtp(rtp(901, 3000, ssrc=13, pid=51))
    before, _first_l, second_l = (s[0] for s in link.sent)
    resent = len(link.sent)
    outlet.nack([before, second_l])  # the h packet is gone; the l one comes from l's ring
    assert [s[0] for s in link.sent[resent:]] == [second_l]
    assert link.sent[-1][3] == link.sent[2][3]  # rewritten just as the first time


class Audio:
    """An audio outlet as the allocation sees it."""

    def __init__(self, bps: float) -> None:
        self.track = type("T", (), {"bitrate_bps": bps, "is_video": False, "carries_fec": False})()


def room_of(n: int) -> list[tuple[SimulcastTrack, SwitchingOutlet]]:
    out = []
    for i in range(n):
        track, _ = simulcast()
        track.peer_id = f"s1-p{i + 2}"
        for ssrc, rid in ((11, "h"), (12, "m"), (13, "l")):
            layer = track.learn(ssrc, rtp(0, 0, ssrc=ssrc, ext=rid_ext(rid)))
            assert layer is not None
            layer.live, layer.last_packet_at = True, time.monotonic()
        outlet = SwitchingOutlet(track, "s1-p1", LinkHolder(), ssrc=600 + i, payload_type=96)
        track.add_outlet(outlet)
        out.append((track, outlet))
    return out


def test_a_link_starts_modestly_and_grows_fast_until_its_first_congestion() -> None:
    down = Downlink()
    down.update(0.0, 0)
    assert down.estimate == 800_000
    down.report(1, 0, 0)
    sent = 0
    for second in range(1, 5):
        sent += down.estimate // 8
        down.report(1, 0, second * 100)
        down.round_trip(0.02)
        down.update(float(second), int(sent))
    assert down.estimate == pytest.approx(
        800_000 * 1.5**4
    )  # slow start: half as much again a second


def test_a_link_that_carries_little_does_not_claim_more_than_one_step_above_it() -> None:
    """A party whose tile wants only 360p takes ~300 kb/s of a 500 kb/s line, and nothing
    is lost: the estimate grows, but never past what arrived with one 720p layer's room
    above it. (It grew to 50 Mb/s in a CI run, and a bigger tile would have sent 720p and
    flooded the line at once.)"""
    down = Downlink()
    down.update(0.0, 0)
    down.report(1, 0, 0)
    down.arrivals.report(1, 0, 0, 1000, now=0.0)
    for second in range(1, 40):
        down.report(1, 0, second * 40)
        # 40 packets of 1000 bytes: 320 kb/s arrived
        down.arrivals.report(1, second * 40, 0, 1000, now=float(second))
        down.update(float(second), second * 40_000)
    assert down.delivered_bps == pytest.approx(320_000, rel=0.05)
    assert 1_500_000 < down.estimate <= 1.5 * 320_000 * 1.05 + APP_LIMITED_HEADROOM_BPS


def test_a_lost_report_does_not_double_what_arrived() -> None:
    """On a lossy uplink a report goes missing: the next covers two seconds, and is read as
    two seconds' worth, not as one second at twice the rate."""
    down = Downlink()
    down.update(0.0, 0)
    down.arrivals.report(1, 0, 0, 1000, now=0.0)
    highest = 0
    for second in range(1, 9):
        highest += 40  # 320 kb/s arriving
        if second != 4:  # the report of second 4 was lost
            down.arrivals.report(1, highest, 0, 1000, now=float(second))
        down.update(float(second), second * 40_000)
        if second >= 2:
            assert down.delivered_bps == pytest.approx(320_000, rel=0.02), second


def test_a_link_that_loses_comes_down_to_what_got_through_and_holds() -> None:
    down = Downlink()
    down.update(0.0, 0)
    down.estimate = 20_000_000
    # 3.7 Mb/s sent, 86 % lost: the estimate falls to what got through (~0.5 Mb/s) at once
    down.report(1, 0, 0)
    down.report(1, 220, 400)
    down.update(1.0, 3_700_000 // 8)
    assert 450_000 < down.estimate < 560_000
    # 7 % lost: held; 3 % (random loss, not congestion): it may grow, but not past what got
    # through, for a while
    before = down.estimate
    down.report(1, 18, 800)
    down.update(2.0, 2 * 3_700_000 // 8)
    assert down.estimate == before
    down.report(1, 8, 1200)
    down.update(3.0, 3 * 3_700_000 // 8)
    assert down.estimate == before
    down.report(1, 8, 1600)
    down.update(40.0, 4 * 3_700_000 // 8)  # the hold is over: it probes up again
    assert down.estimate > before


def test_a_growing_queue_stops_the_growth_and_then_drains() -> None:
    """A slow line's buffer fills long before it drops: the round trip says so first."""
    down = Downlink()
    down.update(0.0, 0)
    down.starting = False
    down.estimate = 600_000
    sent = 0

    def second(at: float, rtt: float, bps: float, lost: int = 0) -> None:
        nonlocal sent
        sent += int(bps / 8)
        down.report(1, lost, int(at * 100))
        down.round_trip(rtt)
        down.update(at, sent)

    down.report(1, 0, 0)
    second(1.0, 0.150, 500_000)  # the path: 150 ms
    second(2.0, 0.152, 500_000)
    assert down.estimate == pytest.approx(600_000 * 1.08**2)
    grown = down.estimate
    second(3.0, 0.260, 640_000)  # 110 ms of queue: no more growth
    assert down.estimate == grown and down.queue_s is not None and down.queue_s > 0.1
    second(4.0, 0.600, 640_000, lost=5)  # 450 ms of queue, 2 % lost: one report could be
    assert down.estimate == grown  # a stalled machine, not the line
    second(5.0, 0.800, 640_000, lost=5)  # and growing: congested
    assert down.estimate < 0.9 * 640_000  # under what got through: the queue drains
    assert not down.starting


def test_a_loopback_path_gives_no_delay_signal() -> None:
    """Round trips of a millisecond that jump as the machine gets busy are not a queue."""
    down = Downlink()
    down.update(0.0, 0)
    down.starting = False
    down.estimate = 2_000_000
    down.report(1, 0, 0)
    for at, rtt in ((1.0, 0.001), (2.0, 0.4), (3.0, 0.5), (4.0, 0.6)):
        down.report(1, 0, int(at * 300))
        down.round_trip(rtt)
        down.update(at, int(at * 250_000))
    assert down.estimate > 2_000_000  # no loss: it grew, the "queue" notwithstanding


def test_loss_the_publisher_had_is_not_the_subscribers() -> None:
    down = Downlink()
    down.update(0.0, 0)
    down.report(1, 0, 0)
    down.report(1, 64, 400, upstream=0.25)  # 25 % reported, all of it lost upstream
    down.update(1.0, 2_000_000 // 8)
    assert down.estimate > 1_000_000  # no loss of its own: it grew


def test_remb_is_shown_but_does_not_move_the_estimate() -> None:
    down = Downlink()
    down.update(0.0, 0)
    down.report(1, 0, 0)
    down.report(1, 0, 100)
    down.remb_bps = 400_000.0  # a browser's guess, on jitter alone
    down.update(1.0, 1_000_000 // 8)
    assert down.estimate > 1_000_000


def test_the_allocation_puts_audio_first_and_fits_layers_in_what_is_left() -> None:
    room = room_of(3)
    paused: list[list[str]] = []
    down = Downlink(paused.append)
    outlets = [o for _, o in room]
    allocate(down, [Audio(40_000)] * 3, outlets)
    down.estimate = 20_000_000
    allocate(down, [Audio(40_000)] * 3, outlets)
    assert [o.target for o in outlets] == [0, 0, 0]  # a good link: the top layer for all
    down.estimate = 500_000  # 500 kb/s: 120 kb/s audio, three lowest layers at 100 kb/s
    allocate(down, [Audio(40_000)] * 3, outlets)
    assert [o.target for o in outlets] == [2, 2, 2] and paused == []
    down.estimate = 300_000  # not even three lowest layers: the smallest tiles pause
    down.heights = {"s1-p2": 600, "s1-p3": 300, "s1-p4": 150}
    allocate(down, [Audio(40_000)] * 3, outlets)
    assert [o.target for o in outlets] == [2, None, None]
    assert paused == [["s1-p3", "s1-p4"]]


def test_a_small_tile_never_gets_the_top_layer_and_modes_are_kept() -> None:
    room = room_of(2)
    down = Downlink()
    down.estimate = 20_000_000  # a good link, past its start
    outlets = [o for _, o in room]
    down.heights = {"s1-p2": 700, "s1-p3": 170}
    allocate(down, [], outlets)
    assert [o.target for o in outlets] == [0, 2]
    down.heights = {"s1-p2": 300, "s1-p3": 170}
    allocate(down, [], outlets)
    assert [o.target for o in outlets] == [1, 2]
    down.mode = "low"
    allocate(down, [], outlets)
    assert [o.target for o in outlets] == [2, 2]
    paused: list[list[str]] = []
    down.on_paused = paused.append
    down.mode = "audio"
    allocate(down, [], outlets)
    assert [o.target for o in outlets] == [None, None]
    assert paused == [["s1-p2", "s1-p3"]]


def test_a_starved_top_layer_is_not_offered() -> None:
    """A publisher short of CPU or uplink sends its 720p at a few frames a second: the
    subscribers get the 360p that moves."""
    track, _ = simulcast()
    layers = learn_all(track)
    for layer in layers.values():
        layer.live, layer.last_packet_at = True, time.monotonic()
    assert track.flowing() == [0, 1, 2]  # no frame rates yet: every layer
    layers["h"].fps, layers["m"].fps, layers["l"].fps = 3.0, 29.0, 30.0
    assert track.flowing() == [1, 2]
    layers["h"].fps = 24.0
    assert track.flowing() == [0, 1, 2]


def test_a_layer_that_stopped_is_not_offered_when_every_layer_is_slow() -> None:
    """A loaded publisher turns its 720p off and sends the rest at a few frames a second (a
    CI run: the subscriber kept waiting on the silent layer and its picture froze for good):
    the layers still sending are offered, the silent one is not."""
    track, _ = simulcast()
    layers = learn_all(track)
    now = time.monotonic()
    for layer in layers.values():
        layer.live, layer.last_packet_at = True, now
    layers["h"].fps, layers["m"].fps, layers["l"].fps = 2.0, 4.0, 4.0  # all under MIN_FPS
    assert track.flowing() == [0, 1, 2]
    layers["h"].last_packet_at = now - 3.0
    assert track.flowing() == [1, 2]
    # and an outlet on it moves to one that sends, at that layer's keyframe
    holder = LinkHolder()
    holder.link = Link()
    outlet = SwitchingOutlet(track, "s1-p2", holder, ssrc=500, payload_type=96)
    track.add_outlet(outlet)
    outlet.retarget(0)
    downlink = Downlink()
    allocate(downlink, [], [outlet])
    assert outlet.target == 1
