"""Pre-encoded media clips for the SFU tests and benchmark: VP8 in WebM and Opus in Ogg.

Encoding happens here, once per clip, in the test (or bench) process, never in the server:
the publisher then sends the clip's encoded packets as they are (``MediaPlayer(decode=False)``
or pre-packetized RTP), so the frames a subscriber gets can be compared byte for byte with
``clip_frames``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av


def _pattern(width: int, height: int, index: int) -> av.VideoFrame:
    # A moving gradient plus a noisy band keeps VP8 busy enough to need several packets.
    frame = av.VideoFrame(width, height, "yuv420p")
    y = bytearray(width * height)
    shift = index * 4
    for row in range(height):
        base = row * width
        for col in range(0, width, 4):
            value = (col + row + shift) & 0xFF
            y[base + col : base + col + 4] = bytes((value, value ^ 0x55, value, (value * 7) & 0xFF))
    frame.planes[0].update(bytes(y))
    chroma = bytes(((i * 3 + index * 5) & 0xFF) for i in range((width // 2) * (height // 2)))
    frame.planes[1].update(chroma)
    frame.planes[2].update(chroma[::-1])
    return frame


def make_vp8_clip(
    path: Path,
    *,
    frames: int = 90,
    width: int = 320,
    height: int = 240,
    fps: int = 30,
    gop: int = 15,
    kbps: int = 800,
) -> Path:
    """Encode ``frames`` synthetic frames to VP8 in WebM, a keyframe every ``gop`` frames."""
    with av.open(str(path), "w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = kbps * 1000
        stream.gop_size = gop
        stream.codec_context.options = {
            "deadline": "realtime",
            "cpu-used": "8",
            "lag-in-frames": "0",
        }
        stream.codec_context.time_base = Fraction(1, fps)
        for i in range(frames):
            frame = _pattern(width, height, i)
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def make_opus_clip(path: Path, *, seconds: float = 3.0) -> Path:
    """Encode a 440 Hz tone to Opus in Ogg (20 ms packets)."""
    rate = 48000
    with av.open(str(path), "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=rate)
        stream.layout = "stereo"
        stream.bit_rate = 64000
        samples = 960
        for n in range(int(seconds * rate / samples)):
            pcm = bytearray()
            for i in range(samples):
                v = int(8000 * math.sin(2 * math.pi * 440 * (n * samples + i) / rate))
                pcm += v.to_bytes(2, "little", signed=True) * 2
            frame = av.AudioFrame(format="s16", layout="stereo", samples=samples)
            frame.planes[0].update(bytes(pcm))
            frame.sample_rate = rate
            frame.pts = n * samples
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def clip_frames(path: Path) -> list[tuple[bytes, bool]]:
    """The clip's encoded frames, in order: (bytes, keyframe)."""
    with av.open(str(path)) as container:
        return [
            (bytes(p), bool(p.is_keyframe)) for p in container.demux(container.streams[0]) if p.size
        ]
