"""A publisher's track in the SFU: each of its packets handed to every subscriber's outlet.

``InboundTrack.on_rtp`` runs once per decrypted packet from a publisher (synchronously, on the
event loop, straight from the DTLS transport; see ``aiortc_hook.receiving``). For every
subscriber it hands the packet to that subscriber's ``outlet.Outlet`` (which rewrites and
sends it), and to the taps' sinks. Nothing is decoded, reassembled or re-packetized.

Loss on the way in: a publisher's video track asks for what its uplink lost (nack.py) and
keeps the last ``RING`` packets to answer its subscribers' NACKs.

Keyframes: while an outlet waits for one the track asks the publisher (PLI); those requests
are rate-limited per publisher track (``KEYFRAME_INTERVAL``).
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from signaling.sfu.media import MediaPacket, MediaTap, PacketSink, payload_end, vp8_keyframe_start
from signaling.sfu.nack import NackTracker
from signaling.sfu.opus import has_fec
from signaling.sfu.outlet import Outlet

if TYPE_CHECKING:
    from signaling.sfu.switching import LayerPort

_SEQ_TS = struct.Struct("!HI")
RING = 512  # packets kept per video track for answering NACKs (~3 s at 1.5 Mbps)
KEYFRAME_INTERVAL = 1.0  # seconds between keyframe requests to one publisher track
# An audio track carries FEC while its last packet with LBRR is this recent: a speaker's
# pauses (no voice, no LBRR) must not turn the copies on and off between words.
FEC_FRESH_S = 5.0


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
        # a simulcast layer's are its subscribers' ports (switching.LayerPort)
        self.outlets: tuple[Outlet | LayerPort, ...] = ()
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
        # Packets that arrived in order or after a gap: not a retransmission, a late one or
        # a copy (what the publisher's uplink carried the first time; feedback.py).
        self.fresh = 0
        self.base_seq: int | None = None
        self.max_seq = 0
        self.cycles = 0
        self.last_pli = 0.0
        self.pli_pending = False
        self.keyframe_requests = 0
        self.malformed = 0
        self.bitrate_bps = 0.0
        self.bitrate_avg = 0.0
        self.fps = 0.0  # frames a second, smoothed as the bitrate
        self._frames_mark = 0
        self._rate_mark = (0.0, 0)
        # What the publisher's uplink lost over the last second and no NACK brought back:
        # the gaps every subscriber sees too, which are not its own link's doing.
        self.upstream_loss = 0.0
        self._loss_mark = (0, 0)
        # Audio: when a packet last carried Opus in-band FEC (opus.py), which makes copies
        # of it to a lossy subscriber unnecessary.
        self.fec_at = 0.0
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
            self.fresh += 1
        elif 0 < ((seq - self.max_seq) & 0xFFFF) < 0x8000:
            if seq < self.max_seq:
                self.cycles += 0x10000
            self.max_seq = seq
            self.fresh += 1
        if self.nack is not None:
            self.nack.seen(seq, now)
        keyframe = False
        if self.is_video:
            self._ring[seq % RING] = data
            # only a partition start (S=1, PID=0) can begin a keyframe
            if payload and payload[0] & 0x1F == 0x10 and vp8_keyframe_start(data, off):
                keyframe = True
                self.keyframes_in += 1
        elif has_fec(payload):
            self.fec_at = now
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
            # smoothed: one second with a keyframe in it is not the layer's rate
            self.bitrate_avg = (
                self.bitrate_bps
                if not self.bitrate_avg
                else (0.7 * self.bitrate_avg + 0.3 * self.bitrate_bps)
            )
            fps = (self.frames_in - self._frames_mark) / max(now - then, 1e-3)
            self.fps = fps if not self.fps else 0.7 * self.fps + 0.3 * fps
        self._frames_mark = self.frames_in
        self._rate_mark = (now, self.bytes_in)
        expected, received = self.expected, self.packets_in
        was_expected, was_received = self._loss_mark
        window = expected - was_expected
        if window > 0:
            self.upstream_loss = max(0.0, min(1.0, 1 - (received - was_received) / window))
        self._loss_mark = (expected, received)

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
    def carries_fec(self) -> bool:
        """Audio whose publisher adds in-band FEC now (``FEC_FRESH_S``)."""
        return self.fec_at > 0 and time.monotonic() - self.fec_at < FEC_FRESH_S

    @property
    def downstream_loss(self) -> float:
        """The worst recent loss on the links of this audio's subscribers (each outlet's
        ``link_loss``, which the allocation keeps): what the publisher is told, so its
        encoder adds FEC for them (``opus.loss_to_report``)."""
        if self.is_video:
            return 0.0
        return max((o.link_loss for o in self.outlets if isinstance(o, Outlet)), default=0.0)

    @property
    def extended_max_seq(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return 0 if self.base_seq is None else self.extended_max_seq - self.base_seq + 1
