"""Test and benchmark fixture: a known pre-encoded VP8/Opus clip, as frames and as RTP.

Encoding happens here, in the test process, once per clip; the server under test only ever
sees the encoded units. Packetization follows RFC 7741 (VP8) and RFC 7587 (Opus).
"""

from __future__ import annotations

import functools
import math
import struct
from dataclasses import dataclass
from fractions import Fraction

import av
from aiortc.rtp import RtpPacket
from av.codec.context import CodecContext

MTU_PAYLOAD = 1100


@dataclass(frozen=True)
class Unit:
    data: bytes
    pts: int  # RTP clock: 90 kHz video, 48 kHz audio
    keyframe: bool


@functools.cache
def vp8_clip(
    seconds: float = 3.0,
    fps: int = 30,
    width: int = 320,
    height: int = 240,
    keyint: int = 30,
    kbps: int = 400,
) -> tuple[Unit, ...]:
    enc = CodecContext.create("libvpx", "w")
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base = Fraction(1, 90000)
    enc.framerate = fps
    enc.gop_size = keyint
    enc.bit_rate = kbps * 1000
    enc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out: list[Unit] = []
    step = 90000 // fps
    for i in range(round(seconds * fps)):
        frame = av.VideoFrame(width, height, "yuv420p")
        row = bytes((x + i * 4) % 256 for x in range(width))
        frame.planes[0].update(row * height)
        frame.planes[1].update(bytes([(i * 5) % 256]) * (width * height // 4))
        frame.planes[2].update(bytes([128]) * (width * height // 4))
        frame.pts = i * step
        frame.time_base = enc.time_base
        if i % keyint == 0:
            frame.pict_type = av.video.frame.PictureType.I
        for packet in enc.encode(frame):
            out.append(Unit(bytes(packet), int(packet.pts), bool(packet.is_keyframe)))
    for packet in enc.encode(None):
        out.append(Unit(bytes(packet), int(packet.pts), bool(packet.is_keyframe)))
    return tuple(out)


@functools.cache
def opus_clip(seconds: float = 3.0) -> tuple[Unit, ...]:
    enc = CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format = 48000, "stereo", "s16"
    enc.time_base = Fraction(1, 48000)
    out: list[Unit] = []
    for i in range(round(seconds * 50)):
        samples = (
            int(6000 * math.sin(2 * math.pi * 440 * (k + i * 960) / 48000)) for k in range(960)
        )
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.planes[0].update(b"".join(struct.pack("<hh", v, v) for v in samples))
        frame.sample_rate = 48000
        frame.pts = i * 960
        frame.time_base = enc.time_base
        for packet in enc.encode(frame):
            out.append(Unit(bytes(packet), int(packet.pts), True))
    return tuple(out)


def vp8_payloads(data: bytes, picture_id: int) -> list[bytes]:
    """RFC 7741 packetization: descriptor with a 15-bit PictureID, S bit on the first."""
    chunks = [data[i : i + MTU_PAYLOAD] for i in range(0, len(data), MTU_PAYLOAD)] or [b""]
    out = []
    for n, chunk in enumerate(chunks):
        first = 0x80 | (0x10 if n == 0 else 0)
        desc = bytes([first, 0x80, 0x80 | ((picture_id >> 8) & 0x7F), picture_id & 0xFF])
        out.append(desc + chunk)
    return out


def rtp_stream(
    units: tuple[Unit, ...] | list[Unit],
    kind: str,
    *,
    ssrc: int = 1234,
    seq0: int = 65000,
    ts0: int = 4294900000,
) -> list[RtpPacket]:
    """RTP packets for a clip; sequence numbers and timestamps start near their wrap."""
    packets: list[RtpPacket] = []
    seq = seq0
    for n, unit in enumerate(units):
        ts = (ts0 + unit.pts) & 0xFFFFFFFF
        payloads = vp8_payloads(unit.data, n & 0x7FFF) if kind == "video" else [unit.data]
        for i, payload in enumerate(payloads):
            packets.append(
                RtpPacket(
                    payload_type=96 if kind == "video" else 111,
                    marker=int(kind == "audio" or i == len(payloads) - 1),
                    sequence_number=seq & 0xFFFF,
                    timestamp=ts,
                    ssrc=ssrc,
                    payload=payload,
                )
            )
            seq += 1
    return packets


def decoded_frames(path: str) -> tuple[int, list[bytes], float]:
    """Decode a recorded file: (decoded frame count, packet payloads, seconds of media)."""
    payloads: list[bytes] = []
    decoded = 0
    last = 0.0
    with av.open(path) as container:
        stream = container.streams[0]
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            payloads.append(bytes(packet))
            if packet.pts is not None:
                last = max(last, float((packet.pts + (packet.duration or 0)) * stream.time_base))
            decoded += len(packet.decode())
    return decoded, payloads, last
