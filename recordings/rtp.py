"""Encoded frames back out of the RTP packets the SFU forwards: VP8 (RFC 7741) and Opus.

The SFU forwards packets without reassembling them; the recorder needs whole frames to mux.
This module runs in the recorder's batches (every 0.5 s on the event loop), never on the
forwarding path: the SFU's tap only queues a reference to each packet. It accepts either raw
RTP bytes (header included, already decrypted) or an object with ``payload``/``timestamp``/
``marker``/``sequence_number`` (the SFU's ``MediaPacket``, ``aiortc.rtp.RtpPacket``).

The assemblers take a whole batch of packets at once (``take``): at ~200 packets per second
per publisher the per-packet Python overhead is most of what recording costs, so the VP8 loop
keeps its state in locals and builds no object per packet, only one per frame.

A VP8 frame is the payloads (descriptor stripped) of consecutive packets sharing one RTP
timestamp, from the packet with the S bit and partition 0 up to the one with the marker bit.
A frame with a sequence gap inside is incomplete and is counted as lost, never written
half-way (a decoder would choke on it). Before that, packets are put back in sequence order:
the SFU asks publishers to resend what their uplink lost, and a resent packet arrives a round
trip or more after its neighbours; a gap is waited for up to ``REORDER_SECONDS`` (by the
packets' arrival times; ``REORDER_PACKETS`` packets for packets without one) before the
frames behind it are given up on. In-order packets pass straight through.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_RAW = (bytes, bytearray, memoryview)
# How long a sequence gap is waited for: as long as the SFU goes on asking the publisher for
# the missing packet (signaling/sfu/nack.py gives up after 1 s; the two never import each
# other). Only the packets behind an unfilled gap wait that long.
REORDER_SECONDS = 1.0
REORDER_PACKETS = 512  # packets held behind a gap at most (and the window without arrivals)
_LATE = 3000  # a packet this far behind what was released is a restart, not a late packet


@dataclass(slots=True)
class RtpView:
    payload: bytes
    timestamp: int
    marker: bool
    sequence_number: int


@dataclass(slots=True)
class Frame:
    data: bytes
    timestamp: int  # RTP clock units (90 kHz video, 48 kHz Opus)
    keyframe: bool
    width: int = 0  # from a VP8 keyframe header, else 0
    height: int = 0


def parse_rtp(raw: bytes) -> RtpView:
    """The fields the recorder needs from a plain RTP packet (RFC 3550 section 5.1)."""
    if len(raw) < 12 or raw[0] >> 6 != 2:
        raise ValueError("not an RTP packet")
    offset = 12 + 4 * (raw[0] & 0x0F)
    if raw[0] & 0x10:  # header extension: 4-byte header, then length in 32-bit words
        ext_len = int.from_bytes(raw[offset + 2 : offset + 4], "big")
        offset += 4 + 4 * ext_len
    end = len(raw)
    if raw[0] & 0x20 and end > offset:  # padding: the last byte says how much
        end -= raw[-1]
    if offset > end:
        raise ValueError("truncated RTP packet")
    return RtpView(
        payload=bytes(raw[offset:end]),
        timestamp=int.from_bytes(raw[4:8], "big"),
        marker=bool(raw[1] & 0x80),
        sequence_number=int.from_bytes(raw[2:4], "big"),
    )


def view_of(packet: Any) -> RtpView:
    if isinstance(packet, _RAW):
        return parse_rtp(bytes(packet))
    return RtpView(
        payload=bytes(packet.payload),
        timestamp=int(packet.timestamp),
        marker=bool(packet.marker),
        sequence_number=int(packet.sequence_number),
    )


def vp8_descriptor_length(payload: bytes) -> tuple[int, bool]:
    """Length of the VP8 payload descriptor, and whether this packet starts a frame."""
    if not payload:
        raise ValueError("empty VP8 payload")
    first = payload[0]
    length = 1
    if first & 0x80:  # X: extension byte follows
        ext = payload[1]
        length = 2
        if ext & 0x80:  # I: PictureID, 7 or 15 bits
            length += 2 if payload[length] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            length += 1
        if ext & 0x30:  # T or K: TID/KEYIDX byte
            length += 1
    if length > len(payload):
        raise ValueError("truncated VP8 payload descriptor")
    starts = bool(first & 0x10) and (first & 0x07) == 0
    return length, starts


def vp8_keyframe_size(frame: bytes) -> tuple[int, int] | None:
    """(width, height) when ``frame`` is a VP8 keyframe (RFC 6386 section 9.1), else None."""
    if len(frame) < 10 or frame[0] & 0x01:
        return None
    if frame[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(frame[6:8], "little") & 0x3FFF
    height = int.from_bytes(frame[8:10], "little") & 0x3FFF
    return width, height


class Reorder:
    """Puts one track's packets back in sequence order, waiting a bounded time for a gap."""

    __slots__ = ("_expect", "_gap_since", "_held", "late")

    def __init__(self) -> None:
        self._expect: int | None = None  # the next sequence number to release
        self._held: dict[int, Any] = {}  # packets behind a gap, by sequence number
        self._gap_since = 0.0  # arrival of the first packet held behind the current gap
        self.late = 0  # packets that came after their place was given up (or duplicates)

    def order(self, packets: Iterable[Any]) -> list[Any]:
        """The packets that are due, in sequence order (parsed when raw)."""
        out: list[Any] = []
        expect, held = self._expect, self._held
        for packet in packets:
            p = parse_rtp(bytes(packet)) if isinstance(packet, _RAW) else packet
            seq = p.sequence_number
            if expect is None or (seq == expect and not held):  # the usual case
                out.append(p)
                expect = (seq + 1) & 0xFFFF
            else:
                expect = self._out_of_order(p, seq, expect, out)
        self._expect = expect
        return out

    def _out_of_order(self, p: Any, seq: int, expect: int, out: list[Any]) -> int:
        """Hold or release ``p`` (not the next packet due); returns the next one due."""
        held = self._held
        ahead = (seq - expect) & 0xFFFF
        if ahead >= 0x8000 and 0x10000 - ahead <= _LATE:
            self.late += 1  # a duplicate, or its gap was already given up
            return expect
        if ahead >= 0x8000 or ahead > REORDER_PACKETS * 4:  # the stream restarted
            out.extend(held[s] for s in sorted(held, key=lambda s: (s - expect) & 0xFFFF))
            held.clear()
            out.append(p)
            return (seq + 1) & 0xFFFF
        now = getattr(p, "arrival", 0.0)
        if not held:
            self._gap_since = now
        held[seq] = p
        start = expect
        expect = _release(held, expect, out)
        if not held:
            return expect
        if expect != start:  # a new gap: noticed when the packet right after it came
            self._gap_since = getattr(held[_oldest(held, expect)], "arrival", now)
        if len(held) > REORDER_PACKETS or (now and now - self._gap_since > REORDER_SECONDS):
            # give up on this gap: go on from the oldest packet held
            expect = _release(held, _oldest(held, expect), out)
            if held:
                self._gap_since = getattr(held[_oldest(held, expect)], "arrival", now)
        return expect

    def flush(self) -> list[Any]:
        """Everything still held, in sequence order, its gaps given up: the track has ended
        (or its segment closes), so nothing more will fill them."""
        out: list[Any] = []
        held, expect = self._held, self._expect
        while held and expect is not None:
            expect = _release(held, _oldest(held, expect), out)
        self._expect = expect
        return out


def _oldest(held: dict[int, Any], expect: int) -> int:
    return min(held, key=lambda s: (s - expect) & 0xFFFF)


def _release(held: dict[int, Any], expect: int, out: list[Any]) -> int:
    """Move the run of held packets from ``expect`` on to ``out``; the next one due."""
    while expect in held:
        out.append(held.pop(expect))
        expect = (expect + 1) & 0xFFFF
    return expect


class Vp8Assembler:
    """Reassembles VP8 frames from RTP packets (the SFU's receive order, put back in sequence
    order by ``Reorder``)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._ts: int | None = None
        self._next_seq: int | None = None
        self._broken = False
        self._reorder = Reorder()
        self.lost_frames = 0
        self.bad_packets = 0

    def push(self, view: Any) -> Frame | None:
        frames = self.take((view,))
        return frames[0] if frames else None

    def take(self, packets: Iterable[Any]) -> list[Frame]:
        """The frames completed by ``packets`` (in arrival order), oldest first."""
        return self._assemble(self._reorder.order(packets))

    def flush(self) -> list[Frame]:
        """The frames completed by the packets still held behind a gap (see
        ``Reorder.flush``): called when the track's segment closes."""
        return self._assemble(self._reorder.flush())

    def _assemble(self, ordered: list[Any]) -> list[Frame]:
        out: list[Frame] = []
        parts, cur_ts, next_seq, broken = self._parts, self._ts, self._next_seq, self._broken
        lost = bad = 0
        for p in ordered:
            payload = p.payload
            size = len(payload)
            if not size:
                bad += 1
                continue
            first = payload[0]
            skip = 1  # the descriptor (RFC 7741 section 4.2), inlined: this runs per packet
            if first & 0x80 and size > 1:
                ext = payload[1]
                skip = 2
                if ext & 0x80:  # a PictureID past the end makes skip > size below
                    skip += 2 if size > 2 and payload[2] & 0x80 else 1
                if ext & 0x40:
                    skip += 1
                if ext & 0x30:
                    skip += 1
            if skip > size or (first & 0x80 and size == 1):
                bad += 1
                continue
            ts = p.timestamp
            seq = p.sequence_number
            starts = (first & 0x17) == 0x10  # S bit, partition 0
            if ts != cur_ts or starts:
                if parts:  # the previous frame never saw its marker
                    lost += 1
                parts = []
                cur_ts = ts
                broken = not starts
            elif seq != next_seq:
                broken = True
            next_seq = (seq + 1) & 0xFFFF
            parts.append(payload[skip:])
            if not p.marker:
                continue
            if broken:
                lost += 1
            else:
                data = parts[0] if len(parts) == 1 else b"".join(parts)
                if data and not data[0] & 0x01 and (dims := vp8_keyframe_size(data)):
                    out.append(Frame(data, ts, True, dims[0], dims[1]))
                else:
                    out.append(Frame(data, ts, False))
            parts, cur_ts = [], None
        self._parts, self._ts, self._next_seq, self._broken = parts, cur_ts, next_seq, broken
        self.lost_frames += lost
        self.bad_packets += bad
        return out


class OpusAssembler:
    """Opus over RTP (RFC 7587) is one frame per packet: the payload as it is."""

    lost_frames = 0
    bad_packets = 0

    def push(self, view: Any) -> Frame | None:
        frames = self.take((view,))
        return frames[0] if frames else None

    def take(self, packets: Iterable[Any]) -> list[Frame]:
        out = []
        for packet in packets:
            p = parse_rtp(bytes(packet)) if isinstance(packet, _RAW) else packet
            if p.payload:
                out.append(Frame(p.payload, p.timestamp, True))
        return out

    def flush(self) -> list[Frame]:
        return []  # nothing is held: each packet is a frame


def assembler_for(kind: str) -> Vp8Assembler | OpusAssembler:
    return Vp8Assembler() if kind == "video" else OpusAssembler()
