"""One publisher track on one subscriber: the rewritten copy of each packet, sent.

An ``Outlet`` rewrites SSRC, sequence number, timestamp and payload type for the subscriber's
negotiation, drops the header extensions (their ids and the MID belong to the publisher's
connection), SRTP-protects the packet with the subscriber's session and sends it (the
publisher's side is ``inbound.InboundTrack``; the whole path is the SFU's forwarding path:
nothing is decoded, reassembled or re-packetized).

Loss on the way in: the resent packet comes late with its original sequence number, and each
outlet maps it into the gap it left (the rewrite is a fixed offset per outlet run), so
subscribers get it in place. Loss on the way out: the subscriber's NACKs are answered from
the track's ring.

Audio on a lossy downlink (``copy_after``, set by the subscriber's ``Downlink``): each
packet is sent once more a little later, the same bytes (a receiver keeps whichever copy
arrives first and drops the other as a duplicate; SRTP protects the same index twice to the
same bytes, which aiortc's sending policy allows, as for retransmissions). Opus is not
retransmitted, and a few per cent of random loss is a few per cent of speech cut; the copy
makes it the product of two losses, at the cost of the audio's bitrate once more.

Keyframes: a video outlet starts (and restarts after dropping) at the first packet of a
keyframe. The only send queue is the UDP transport's own buffer; an outlet whose buffer is
over ``max_queue_bytes`` drops packets and waits for a keyframe instead of letting the buffer
grow.
"""

from __future__ import annotations

import asyncio
import random
import struct
from typing import TYPE_CHECKING, Any, Protocol

from signaling.sfu.media import payload_offset

if TYPE_CHECKING:
    from signaling.sfu.aiortc_hook.sending import SendLink

_SEQ_TS = struct.Struct("!HI")
DEFAULT_MAX_QUEUE_BYTES = 256 * 1024


class Source(Protocol):
    """What an outlet needs of the publisher track it forwards (``inbound.InboundTrack``)."""

    is_video: bool
    track_id: str

    def lookup(self, seq: int) -> bytes | None: ...
    def request_keyframe(self) -> None: ...
    def remove_outlet(self, outlet: Outlet) -> None: ...


class LinkHolder:
    """A peer's send path; ``link`` is None until its DTLS transport is connected."""

    __slots__ = ("link",)

    def __init__(self) -> None:
        self.link: SendLink | None = None


class Outlet:
    """One publisher track on one subscriber's sender (SSRC)."""

    __slots__ = (
        "bytes_out",
        "copies",
        "copy_after",
        "copy_bytes",
        "drops",
        "first_out",
        "frames_out",
        "gated",
        "holder",
        "last_sent_at",
        "last_ts_out",
        "link_loss",
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
        track: Source,
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
        self.drops = self.gated = self.nacks = self.retransmits = self.copies = 0
        self.last_sent_at = 0.0
        self.copy_after = 0.0  # seconds; audio on a lossy downlink only (module docstring)
        self.copy_bytes = 0  # the copies' payload: on the link, but not new media (SR octets)
        self.link_loss = 0.0  # the subscriber's link's recent loss (audio; set by allocation)

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
        if not self._forward(link, b0, b1, out_seq, out_ts, payload, late, now):
            return
        if self.copy_after:
            # Later, not at once: a loss that takes one packet often takes the next too.
            asyncio.get_running_loop().call_later(
                self.copy_after, self._copy, link, b0, b1, out_seq, out_ts, bytes(payload)
            )

    def _forward(
        self,
        link: SendLink,
        b0: int,
        b1: int,
        seq: int,
        ts: int,
        payload: Any,
        late: bool,
        now: float,
    ) -> bool:
        """Put one packet, its numbers already rewritten, on the link and count it; False
        when the link's queue refused it (counted as a drop). ``now``: monotonic."""
        # V=2, padding bit kept (the padding is in the payload), no CSRCs and no extensions
        if not link.forward(
            0x80 | (b0 & 0x20), (b1 & 0x80) | self.pt, seq, ts, self.ssrc, payload,
            self.max_queue_bytes,
        ):  # fmt: skip
            self._drop()
            return False
        if not late:
            self.next_seq = (seq + 1) & 0xFFFF
            self.last_ts_out = ts
        self.packets_out += 1
        self.bytes_out += len(payload)
        if b1 & 0x80:
            self.frames_out += 1
        self.last_sent_at = now
        return True

    def _copy(self, link: SendLink, b0: int, b1: int, seq: int, ts: int, payload: bytes) -> None:
        if self.holder.link is not link or self.waiting:
            return  # the connection was replaced, or the outlet stopped
        if link.forward(
            0x80 | (b0 & 0x20), (b1 & 0x80) | self.pt, seq, ts, self.ssrc, payload,
            self.max_queue_bytes,
        ):  # fmt: skip
            self.copies += 1
            self.copy_bytes += len(payload)

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
