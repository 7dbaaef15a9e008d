"""The packet forwarding path: one publisher track in, one rewritten copy per subscriber out.

``InboundTrack.on_rtp`` runs once per decrypted packet from a publisher (synchronously, on the
event loop, straight from the DTLS transport; see aiortc_hook). For every subscriber it hands
the packet to that subscriber's ``Outlet``, which rewrites SSRC, sequence number, timestamp and
payload type for the subscriber's negotiation, drops the header extensions (their ids and the
MID belong to the publisher's connection), SRTP-protects it with the subscriber's session and
sends it. Nothing is decoded, reassembled or re-packetized.

Loss on the way in: a publisher's video track asks for what its uplink lost (nack.py); the
resent packet comes late with its original sequence number, and each outlet maps it into the
gap it left (the rewrite is a fixed offset per outlet run), so subscribers get it in place.

Keyframes: a video outlet starts (and restarts after dropping) at the first packet of a
keyframe; while it waits it asks the publisher for one, and those requests (PLI) are
rate-limited per publisher track. The only send queue is the UDP transport's own buffer; an
outlet whose buffer is over ``max_queue_bytes`` drops packets and waits for a keyframe instead
of letting the buffer grow.
"""

from __future__ import annotations

import asyncio
import random
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from signaling.sfu.media import (
    MediaPacket,
    MediaTap,
    PacketSink,
    payload_end,
    payload_offset,
    vp8_keyframe_start,
)
from signaling.sfu.nack import NackTracker

if TYPE_CHECKING:
    from signaling.sfu.aiortc_hook import SendLink

_SEQ_TS = struct.Struct("!HI")
RING = 512  # packets kept per video track for answering NACKs (~3 s at 1.5 Mbps)
KEYFRAME_INTERVAL = 1.0  # seconds between keyframe requests to one publisher track
DEFAULT_MAX_QUEUE_BYTES = 256 * 1024


class LinkHolder:
    """A peer's send path; ``link`` is None until its DTLS transport is connected."""

    __slots__ = ("link",)

    def __init__(self) -> None:
        self.link: SendLink | None = None


class Outlet:
    """One publisher track on one subscriber's sender (SSRC)."""

    __slots__ = (
        "bytes_out",
        "drops",
        "first_out",
        "frames_out",
        "gated",
        "holder",
        "last_sent_at",
        "last_ts_out",
        "max_queue_bytes",
        "nacks",
        "next_seq",
        "packets_out",
        "pt",
        "retransmits",
        "seq_offset",
        "ssrc",
        "subscriber_id",
        "track",
        "ts_offset",
        "waiting",
    )

    def __init__(
        self,
        track: InboundTrack,
        subscriber_id: str,
        holder: LinkHolder,
        *,
        ssrc: int,
        payload_type: int,
        next_seq: int | None = None,
        last_ts_out: int | None = None,
        max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
    ) -> None:
        self.track = track
        self.subscriber_id = subscriber_id
        self.holder = holder
        self.ssrc = ssrc
        self.pt = payload_type
        self.max_queue_bytes = max_queue_bytes
        # A reused sender (SSRC) continues its sequence numbers; timestamps are re-based on
        # the first packet so the subscriber's jitter buffer sees one continuous stream.
        self.next_seq = random.randrange(0x8000) if next_seq is None else next_seq
        self.last_ts_out = last_ts_out
        self.seq_offset = 0
        self.first_out = 0  # the rewritten sequence number this outlet (re)started at
        self.ts_offset: int | None = None
        self.waiting = track.is_video
        self.packets_out = self.bytes_out = self.frames_out = 0
        self.drops = self.gated = self.nacks = self.retransmits = 0
        self.last_sent_at = 0.0

    def send(
        self, b0: int, b1: int, payload: Any, seq: int, ts: int, keyframe: bool, now: float
    ) -> None:
        """Forward one packet: ``b0``/``b1`` are the publisher's first two header bytes,
        ``payload`` what follows its header (a memoryview shared by all outlets)."""
        link = self.holder.link
        if link is None:
            return
        if self.waiting or self.ts_offset is None:
            if self.waiting and not keyframe:
                self.gated += 1
                return
            self._start(seq, ts)
        out_seq = (seq + self.seq_offset) & 0xFFFF
        out_ts = (ts + self.ts_offset) & 0xFFFFFFFF  # type: ignore[operator]
        # A late packet (reordered, or a retransmission the SFU asked the publisher for)
        # keeps its place: the same offset maps it into the gap it left. One from before
        # this outlet (re)started would land in numbers already used: it is dropped.
        late = (out_seq - self.next_seq) & 0xFFFF >= 0x8000
        if late and (out_seq - self.first_out) & 0xFFFF >= 0x8000:
            return
        # V=2, padding bit kept (the padding is in the payload), no CSRCs and no extensions
        if not link.forward(
            0x80 | (b0 & 0x20), (b1 & 0x80) | self.pt, out_seq, out_ts, self.ssrc, payload,
            self.max_queue_bytes,
        ):  # fmt: skip
            self._drop()
            return
        if not late:
            self.next_seq = (out_seq + 1) & 0xFFFF
            self.last_ts_out = out_ts
        self.packets_out += 1
        self.bytes_out += len(payload)
        if b1 & 0x80:
            self.frames_out += 1
        self.last_sent_at = now  # monotonic

    def _start(self, seq: int, ts: int) -> None:
        """(Re)start at a keyframe: continue this sender's sequence numbers and timestamps."""
        self.waiting = False
        self.seq_offset = (self.next_seq - seq) & 0xFFFF
        self.first_out = self.next_seq
        if self.ts_offset is None:
            base = random.getrandbits(32) if self.last_ts_out is None else self.last_ts_out
            self.ts_offset = (base + 3000 - ts) & 0xFFFFFFFF

    def _drop(self) -> None:
        """The send queue is over its bound: drop, and (video) wait for a keyframe."""
        self.drops += 1
        self.waiting = self.track.is_video
        if self.waiting:
            self.track.request_keyframe()

    def nack(self, lost: list[int]) -> None:
        """Resend what the subscriber lost from the track's ring; a keyframe when too old."""
        self.nacks += 1
        link = self.holder.link
        if link is None or self.waiting or self.ts_offset is None:
            return
        for out_seq in lost:
            data = self.track.lookup((out_seq - self.seq_offset) & 0xFFFF)
            if data is None:
                self.track.request_keyframe()
                return
            _, ts = _SEQ_TS.unpack_from(data, 2)
            off = payload_offset(data)
            out_ts = (ts + self.ts_offset) & 0xFFFFFFFF
            b0, b1 = 0x80 | (data[0] & 0x20), (data[1] & 0x80) | self.pt
            # a retransmission is sent even over the queue bound: it was asked for
            link.forward(b0, b1, out_seq, out_ts, self.ssrc, data[off:], 1 << 30)
            self.retransmits += 1


class InboundTrack:
    """One track a publisher sends (audio, camera or screen), identified by its SSRC."""

    def __init__(
        self,
        peer_id: str,
        label: str,
        kind: str,
        ssrc: int,
        *,
        send_pli: Callable[[int], None],
        on_first_packet: Callable[[InboundTrack], None],
        send_nack: Callable[[int, list[int]], None] | None = None,
    ) -> None:
        self.peer_id = peer_id
        self.label = label
        self.kind = kind
        self.is_video = kind == "video"
        self.codec = "VP8" if self.is_video else "opus"
        self.track_id = f"{peer_id}:{label}"
        self.ssrc = ssrc
        self.outlets: tuple[Outlet, ...] = ()
        # The taps told this track started in its room, each with the sink it gave (or
        # None); ``sinks`` is what the forwarding path calls, kept as a flat tuple for speed.
        self.taps: tuple[tuple[MediaTap, PacketSink | None], ...] = ()
        self.sinks: tuple[PacketSink, ...] = ()
        self._send_pli = send_pli
        self._on_first_packet = on_first_packet
        self._ring: list[bytes | None] = [None] * RING if self.is_video else []
        self.live = False
        # The publisher said it stopped (a screen share): what its encoder still sends
        # starts nothing until it says it shares again.
        self.held = False
        self.last_packet_at = 0.0
        self.packets_in = self.bytes_in = self.frames_in = self.keyframes_in = 0
        self.base_seq: int | None = None
        self.max_seq = 0
        self.cycles = 0
        self.last_pli = 0.0
        self.pli_pending = False
        self.keyframe_requests = 0
        self.malformed = 0
        self.bitrate_bps = 0.0
        self._rate_mark = (0.0, 0)
        # Video lost on the publisher's uplink is asked for again (nack.py); audio is not.
        self.nack: NackTracker | None = None
        if self.is_video and send_nack is not None:
            self.nack = NackTracker(
                lambda lost: send_nack(ssrc, lost),
                lambda delay, callback: asyncio.get_running_loop().call_later(delay, callback),
                self.request_keyframe,
            )

    def on_rtp(self, data: bytes) -> None:
        """Forward one decrypted RTP packet from the publisher to every outlet."""
        seq, ts = _SEQ_TS.unpack_from(data, 2)
        b0 = data[0]
        b1 = data[1]
        off = 12 + 4 * (b0 & 0x0F)  # payload_offset, inlined: this runs for every packet
        if b0 & 0x10:
            off += 4 + 4 * ((data[off + 2] << 8) | data[off + 3])
        if off > len(data):
            raise IndexError("RTP header longer than the packet")
        payload = memoryview(data)[off:]
        self.packets_in += 1
        self.bytes_in += len(payload)
        now = time.monotonic()
        # A padding-only packet (a browser probing bandwidth: Chromium keeps sending them on
        # a screen sender whose track it removed) carries no media. It is forwarded while the
        # track is live, as the sequence numbers must stay continuous, but it is not activity:
        # it must neither keep a stopped screen share alive nor start one.
        if not b0 & 0x20 or data[-1] < len(payload):
            self.last_packet_at = now
        elif not self.live:
            return
        if self.base_seq is None:
            self.base_seq = self.max_seq = seq
        elif 0 < ((seq - self.max_seq) & 0xFFFF) < 0x8000:
            if seq < self.max_seq:
                self.cycles += 0x10000
            self.max_seq = seq
        if self.nack is not None:
            self.nack.seen(seq, now)
        keyframe = False
        if self.is_video:
            self._ring[seq % RING] = data
            # only a partition start (S=1, PID=0) can begin a keyframe
            if payload and payload[0] & 0x1F == 0x10 and vp8_keyframe_start(data, off):
                keyframe = True
                self.keyframes_in += 1
        if b1 & 0x80:
            self.frames_in += 1
        if not self.live:
            if self.held:
                return
            self.live = True
            self._on_first_packet(self)
        for outlet in self.outlets:
            outlet.send(b0, b1, payload, seq, ts, keyframe, now)
        if self.sinks:
            packet = MediaPacket(
                seq, ts, bool(b1 & 0x80), b1 & 0x7F,
                data[off : payload_end(data)], keyframe, now,
            )  # fmt: skip
            for sink in self.sinks:
                sink(packet)

    def sample_bitrate(self, now: float) -> None:
        then, before = self._rate_mark
        if then:
            self.bitrate_bps = (self.bytes_in - before) * 8 / max(now - then, 1e-3)
        self._rate_mark = (now, self.bytes_in)

    def lookup(self, seq: int) -> bytes | None:
        if not self._ring:
            return None
        data = self._ring[seq % RING]
        if data is None or _SEQ_TS.unpack_from(data, 2)[0] != seq:
            return None
        return data

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe now, or as soon as the rate limit allows."""
        if not self.is_video:
            return
        if time.monotonic() - self.last_pli >= KEYFRAME_INTERVAL:
            self._pli()
        else:
            self.pli_pending = True

    def tick(self) -> None:
        """Periodic: send a deferred keyframe request, re-ask while outlets still wait."""
        if not self.is_video or time.monotonic() - self.last_pli < KEYFRAME_INTERVAL:
            return
        if self.pli_pending or any(o.waiting and o.holder.link for o in self.outlets):
            self._pli()

    def _pli(self) -> None:
        self.pli_pending = False
        self.last_pli = time.monotonic()
        self.keyframe_requests += 1
        self._send_pli(self.ssrc)

    def add_outlet(self, outlet: Outlet) -> None:
        self.outlets = (*self.outlets, outlet)
        if outlet.holder.link is not None:
            self.request_keyframe()

    def remove_outlet(self, outlet: Outlet) -> None:
        self.outlets = tuple(o for o in self.outlets if o is not outlet)

    def close(self) -> None:
        """The publisher's track is gone: stop asking it for anything."""
        self.outlets = ()
        if self.nack is not None:
            self.nack.close()

    @property
    def extended_max_seq(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return 0 if self.base_seq is None else self.extended_max_seq - self.base_seq + 1
