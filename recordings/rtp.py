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
half-way (a decoder would choke on it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_RAW = (bytes, bytearray, memoryview)


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


class Vp8Assembler:
    """Reassembles VP8 frames from RTP packets arriving in order (the SFU's receive order)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._ts: int | None = None
        self._next_seq: int | None = None
        self._broken = False
        self.lost_frames = 0
        self.bad_packets = 0

    def push(self, view: Any) -> Frame | None:
        frames = self.take((view,))
        return frames[0] if frames else None

    def take(self, packets: Iterable[Any]) -> list[Frame]:
        """The frames completed by ``packets`` (in arrival order), oldest first."""
        out: list[Frame] = []
        parts, cur_ts, next_seq, broken = self._parts, self._ts, self._next_seq, self._broken
        lost = bad = 0
        for packet in packets:
            p = parse_rtp(bytes(packet)) if isinstance(packet, _RAW) else packet
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


def assembler_for(kind: str) -> Vp8Assembler | OpusAssembler:
    return Vp8Assembler() if kind == "video" else OpusAssembler()
