"""Encoded frames back out of the RTP packets the SFU forwards: VP8 (RFC 7741) and Opus.

The SFU forwards packets without reassembling them; the recorder needs whole frames to mux.
This module runs in the recorder's writer thread, never on the forwarding path: the SFU's tap
only queues a reference to each packet. It accepts either raw RTP bytes (header included,
already decrypted) or an object with ``payload``/``timestamp``/``marker``/``sequence_number``
(``aiortc.rtp.RtpPacket``).

A VP8 frame is the payloads (descriptor stripped) of consecutive packets sharing one RTP
timestamp, from the packet with the S bit and partition 0 up to the one with the marker bit.
A frame with a sequence gap inside is incomplete and is counted as lost, never written
half-way (a decoder would choke on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class RtpView:
    payload: bytes
    timestamp: int
    marker: bool
    seq: int


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
        seq=int.from_bytes(raw[2:4], "big"),
    )


def view_of(packet: Any) -> RtpView:
    if isinstance(packet, bytes | bytearray | memoryview):
        return parse_rtp(bytes(packet))
    return RtpView(
        payload=bytes(packet.payload),
        timestamp=int(packet.timestamp),
        marker=bool(packet.marker),
        seq=int(packet.sequence_number),
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

    def push(self, view: RtpView) -> Frame | None:
        try:
            skip, starts = vp8_descriptor_length(view.payload)
        except (ValueError, IndexError):
            self.bad_packets += 1
            return None
        if view.timestamp != self._ts or starts:
            if self._parts:  # the previous frame never saw its marker
                self.lost_frames += 1
            self._parts = []
            self._ts = view.timestamp
            self._broken = not starts
        elif self._next_seq is not None and view.seq != self._next_seq:
            self._broken = True
        self._next_seq = (view.seq + 1) & 0xFFFF
        self._parts.append(view.payload[skip:])
        if not view.marker:
            return None
        parts, broken = self._parts, self._broken
        self._parts, self._ts = [], None
        if broken:
            self.lost_frames += 1
            return None
        data = b"".join(parts)
        size = vp8_keyframe_size(data)
        if size is None:
            return Frame(data, view.timestamp, False)
        return Frame(data, view.timestamp, True, size[0], size[1])


class OpusAssembler:
    """Opus over RTP (RFC 7587) is one frame per packet: the payload as it is."""

    lost_frames = 0
    bad_packets = 0

    def push(self, view: RtpView) -> Frame | None:
        if not view.payload:
            return None
        return Frame(view.payload, view.timestamp, True)


def assembler_for(kind: str) -> Vp8Assembler | OpusAssembler:
    return Vp8Assembler() if kind == "video" else OpusAssembler()
