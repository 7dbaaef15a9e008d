"""RTP/VP8 parsing and frame reassembly used by the forwarding path and by recorders."""

from __future__ import annotations

import struct

from signaling.sfu.media import (
    FrameAssembler,
    payload_end,
    payload_offset,
    vp8_keyframe_start,
    vp8_picture_id,
)


def rtp(seq: int, ts: int, payload: bytes, *, marker: bool = False, ext: bytes = b"") -> bytes:
    b0 = 0x80 | (0x10 if ext else 0)
    header = struct.pack("!BBHII", b0, (0x80 if marker else 0) | 97, seq, ts, 1234)
    if ext:
        header += struct.pack("!HH", 0xBEDE, len(ext) // 4) + ext
    return header + payload


def vp8(start: bool, picture_id: int, body: bytes) -> bytes:
    return bytes((0x90 if start else 0x80, 0x80, 0x80 | picture_id >> 8, picture_id & 0xFF)) + body


KEY = b"\x10\x02\x00\x9d\x01\x2a"  # VP8 frame tag with P=0 (keyframe), then start code
DELTA = b"\x11\x02\x00"


def test_header_offsets_skip_extensions_and_padding() -> None:
    packet = rtp(1, 90, vp8(True, 5, KEY), ext=b"\x10\x01\x00\x00")
    off = payload_offset(packet)
    assert off == 12 + 4 + 4
    assert vp8_keyframe_start(packet, off)
    assert vp8_picture_id(packet, off) == 5
    padded = bytearray(rtp(2, 90, b"abc" + b"\x00\x00\x03"))
    padded[0] |= 0x20
    assert bytes(padded)[payload_offset(bytes(padded)) : payload_end(bytes(padded))] == b"abc"


def test_keyframe_only_on_first_packet_of_a_keyframe() -> None:
    assert vp8_keyframe_start(vp8(True, 1, KEY), 0)
    assert not vp8_keyframe_start(vp8(True, 1, DELTA), 0)
    assert not vp8_keyframe_start(vp8(False, 1, KEY), 0)  # continuation packet
    assert not vp8_keyframe_start(b"", 0)


def test_assembler_rebuilds_frames_tolerates_reorder_and_waits_for_keyframe() -> None:
    a = FrameAssembler("VP8", window=4)
    # frame 0: a keyframe in one packet
    first = a.push(9, 0, True, vp8(True, 0, KEY))
    assert [f.data for f in first] == [KEY] and first[0].keyframe
    # frame 1 (delta) in two packets, delivered out of order
    frames = a.push(11, 1500, True, vp8(False, 1, b"-tail"))
    frames += a.push(10, 1500, False, vp8(True, 1, DELTA))
    assert [f.data for f in frames] == [DELTA + b"-tail"] and not frames[0].keyframe
    assert [f.data for f in a.push(12, 3000, True, vp8(True, 1, DELTA))] == [DELTA]
    # frame 2 loses its first packet (13): nothing until the next keyframe
    out = a.push(14, 6000, True, vp8(False, 2, b"x"))
    for seq in range(15, 20):  # deltas after the hole, past the reorder window
        out += a.push(seq, 9000 + seq, True, vp8(True, seq, DELTA))
    assert out == []
    recovered = a.push(20, 99000, True, vp8(True, 20, KEY))
    assert [f.data for f in recovered] == [KEY]


def test_opus_packets_are_frames() -> None:
    a = FrameAssembler("opus")
    assert [f.data for f in a.push(1, 960, False, b"\xfc\x01")] == [b"\xfc\x01"]
