"""What the SFU knows about the media it forwards, without decoding it.

- RTP header parsing on raw bytes (the forwarding path never builds aiortc ``RtpPacket``s);
- VP8 payload descriptor (RFC 7741): keyframe start and picture id, from a few bytes;
- ``MediaTap``: how the hub watches tracks enter and leave rooms and where their packets
  (``signaling.events.MediaPacket``) go;
- ``FrameAssembler``: turns a tap's packets back into whole encoded frames (VP8 frames with
  the payload descriptors removed, or Opus packets), for recorders and tests.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Protocol

from signaling.events import MediaPacket, PacketSink

__all__ = ["EncodedFrame", "FrameAssembler", "MediaPacket", "MediaTap", "PacketSink"]

_U32 = struct.Struct("!I")


def payload_offset(data: bytes) -> int:
    """Where the RTP payload starts (after CSRCs and the header extension)."""
    off = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10:
        off += 4 + 4 * ((data[off + 2] << 8) | data[off + 3])
    return off


def payload_end(data: bytes) -> int:
    """Where the RTP payload ends (before padding)."""
    return len(data) - data[-1] if data[0] & 0x20 else len(data)


def vp8_descriptor_size(data: bytes, off: int) -> int:
    """Length of the VP8 payload descriptor at ``data[off:]``."""
    b = data[off]
    pos = off + 1
    if b & 0x80:
        x = data[pos]
        pos += 1
        if x & 0x80:
            pos += 2 if data[pos] & 0x80 else 1
        if x & 0x40:
            pos += 1
        if x & 0x30:
            pos += 1
    return pos - off


def vp8_keyframe_start(data: bytes, off: int) -> bool:
    """True for the first packet of a VP8 keyframe (S=1, partition 0, P bit clear)."""
    if off >= len(data):
        return False
    b = data[off]
    if not b & 0x10 or b & 0x0F:
        return False
    pos = off + vp8_descriptor_size(data, off)
    return pos < len(data) and not data[pos] & 0x01


def vp8_picture_id(data: bytes, off: int) -> int | None:
    """The VP8 picture id (7 or 15 bits) of a packet, if the descriptor carries one."""
    if not data[off] & 0x80 or not data[off + 1] & 0x80:
        return None
    pos = off + 2
    if data[pos] & 0x80:
        return ((data[pos] & 0x7F) << 8) | data[pos + 1]
    return data[pos]


class MediaTap(Protocol):
    """Watches the tracks forwarded in rooms. The hub is the product's tap: it turns these
    calls into the typed events of ``signaling.events`` for its listeners.

    Called synchronously on the event loop from the forwarding path: return quickly.
    ``on_track_start`` is called when a live track enters a room (or when the tap is added);
    it returns where that track's packets go from now on (a ``PacketSink``, called once per
    forwarded ``MediaPacket`` in arrival order, not reassembled frames), or None.
    ``on_track_end`` is called when the track leaves the room, stops, or its peer goes away;
    its sink gets nothing after that. Its ``reason`` says which: ``"moved"`` (the peer was
    put in another room, or the lobby), ``"left"`` (the peer was removed: left, dropped,
    replaced, the session ended) or ``"stopped"`` (the track stopped, e.g. a screen share).
    The track ids are ``"<peer_id>:<label>"`` with label "camera", "screen" or "audio";
    codec "VP8" or "opus" (RTP clock 90 kHz for VP8, 48 kHz for Opus).
    """

    def on_track_start(
        self, peer_id: str, room: str, track_id: str, kind: str, label: str, codec: str
    ) -> PacketSink | None: ...

    def on_track_end(self, peer_id: str, track_id: str, reason: str) -> None: ...


@dataclass(slots=True)
class EncodedFrame:
    """A whole encoded frame rebuilt from RTP packets."""

    timestamp: int
    data: bytes
    keyframe: bool


class FrameAssembler:
    """Rebuilds encoded frames from RTP packets of one track (VP8 or Opus).

    A VP8 frame is the packets sharing one RTP timestamp, in sequence order, from a packet with
    the start bit to the one with the marker bit; a frame with a missing packet is dropped, and
    after a loss nothing is emitted until the next keyframe (a decoder could not use it).
    Opus packets are frames as they are. Reordering within ``window`` packets is tolerated.
    """

    def __init__(self, codec: str, window: int = 64) -> None:
        self._vp8 = codec.upper() == "VP8"
        self._window = window
        self._pending: dict[int, tuple[int, bool, bytes, bool]] = {}
        self._next_seq: int | None = None
        self._parts: list[bytes] = []
        self._frame_ts: int | None = None
        self._frame_key = False
        self._need_key = True

    def push(self, seq: int, timestamp: int, marker: bool, payload: bytes) -> list[EncodedFrame]:
        if not self._vp8:
            return [EncodedFrame(timestamp, payload, True)] if payload else []
        out: list[EncodedFrame] = []
        if self._next_seq is None:
            self._next_seq = seq
        elif ((seq - self._next_seq) & 0xFFFF) >= 0x8000:
            return out  # late duplicate or older than what we already passed
        self._pending[seq] = (timestamp, marker, payload, False)
        while True:
            item = self._pending.pop(self._next_seq, None)
            if item is None:
                if len(self._pending) <= self._window:
                    break
                self._lose()  # give up on the hole
                continue
            self._take(item[0], item[1], item[2], out)
            self._next_seq = (self._next_seq + 1) & 0xFFFF
        return out

    def _lose(self) -> None:
        assert self._next_seq is not None
        self._parts, self._frame_ts, self._need_key = [], None, True
        self._next_seq = min(self._pending, key=lambda s: (s - self._next_seq) & 0xFFFF)  # type: ignore[operator]

    def _take(self, ts: int, marker: bool, payload: bytes, out: list[EncodedFrame]) -> None:
        if not payload:
            return  # padding only
        start = bool(payload[0] & 0x10) and not payload[0] & 0x0F
        if start:
            self._parts, self._frame_ts = [], ts
            self._frame_key = vp8_keyframe_start(payload, 0)
        elif self._frame_ts != ts:
            self._parts, self._frame_ts = [], None
            return
        self._parts.append(payload[vp8_descriptor_size(payload, 0) :])
        if marker and self._frame_ts is not None:
            if self._frame_key:
                self._need_key = False
            if not self._need_key:
                out.append(EncodedFrame(ts, b"".join(self._parts), self._frame_key))
            self._parts, self._frame_ts = [], None
