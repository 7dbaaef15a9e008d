"""Benchmark clips: pre-encoded VP8 and Opus, and their RTP packetization.

Encoded once (cached by parameters under the cache directory) from ffmpeg's lavfi test
sources; noise keeps VP8 near the target bitrate as a camera would. The load peers send these
bytes as they are: nothing is encoded or decoded while a benchmark runs.
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av
from av.video.frame import PictureType

MAX_PAYLOAD = 1200
VP8_PT_PLACEHOLDER = 0


def _encode(
    source: str,
    path: Path,
    codec: str,
    options: dict[str, str],
    *,
    bit_rate: int,
    gop: int = 0,
    **stream_args: object,
) -> None:
    tmp = path.with_suffix(".part")
    with (
        av.open(source, format="lavfi") as src,
        av.open(str(tmp), "w", format=path.suffix[1:]) as out,
    ):
        stream = out.add_stream(codec, **stream_args)  # type: ignore[call-overload]
        stream.codec_context.options = options
        stream.bit_rate = bit_rate
        if gop:
            stream.gop_size = gop
        in_stream = src.streams[0]
        if in_stream.type == "video":
            stream.width, stream.height, stream.pix_fmt = (
                in_stream.width,
                in_stream.height,
                "yuv420p",
            )
        for frame in src.decode(in_stream):
            if in_stream.type == "video":
                # lavfi marks every frame as I, which libvpx would obey: let the encoder pick
                frame.pict_type = PictureType.NONE
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    tmp.replace(path)


def video_clip(cache: Path, width: int, height: int, *, fps: int = 30, seconds: int = 10,
               kbps: int = 1500, gop: int = 90, pattern: str = "testsrc2") -> Path:  # fmt: skip
    """A VP8 WebM clip of ``seconds`` at ``width``x``height``, ``kbps``, keyframe every ``gop``.

    ``testsrc2`` with noise by default; another lavfi ``pattern`` (``testsrc``) is plain: a
    simpler picture that libvpx can hold to a small layer's bitrate (it cannot bring
    ``testsrc2`` with noise under ~125 kb/s at 320x180, its quantizer at the top)."""
    cache.mkdir(parents=True, exist_ok=True)
    name = "" if pattern == "testsrc2" else f"-{pattern}"
    path = cache / f"vp8-{width}x{height}-{fps}-{seconds}s-{kbps}k-g{gop}{name}.webm"
    if not path.exists():
        source = f"{pattern}=size={width}x{height}:rate={fps}:duration={seconds}"
        source += ",noise=alls=8:allf=t" if pattern == "testsrc2" else ""
        _encode(
            source, path, "libvpx",
            {"deadline": "realtime", "cpu-used": "6", "lag-in-frames": "0",
             "minrate": f"{kbps}k", "maxrate": f"{kbps}k", "undershoot-pct": "95"},
            bit_rate=kbps * 1000, gop=gop, rate=Fraction(fps),
        )  # fmt: skip
    return path


def audio_clip(cache: Path, *, seconds: int = 10) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"opus-{seconds}s.ogg"
    if not path.exists():
        source = f"sine=frequency=440:sample_rate=48000:duration={seconds}"
        _encode(source, path, "libopus", {}, bit_rate=32000, rate=48000)
    return path


# A voiced sound: a 140 Hz voice with harmonics in syllables four times a second. Opus codes
# in-band FEC (LBRR) only for what its voice detector takes for speech, which a tone is not.
VOICE = (
    "aevalsrc=exprs='(0.5+0.5*sin(2*PI*4*t))*(0.4*sin(2*PI*140*t)+0.25*sin(2*PI*280*t)"
    "+0.15*sin(2*PI*420*t)+0.1*sin(2*PI*700*t))':s=48000:d={seconds}"
)


def voice_clip(cache: Path, *, seconds: int = 10, fec: bool = False) -> Path:
    """Opus at 32 kb/s of ``VOICE``; with ``fec``, as a browser's encoder sends it once told
    of loss: in-band FEC on, sized for 10 % (libopus's ``packet_loss``)."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"opus-voice-{seconds}s{'-fec' if fec else ''}.ogg"
    if not path.exists():
        options = {"fec": "1", "packet_loss": "10"} if fec else {}
        _encode(VOICE.format(seconds=seconds), path, "libopus", options,
                bit_rate=32000, rate=48000)  # fmt: skip
    return path


def voice_wav(cache: Path, *, seconds: int = 10) -> Path:
    """``VOICE`` as a WAV (48 kHz, 16-bit mono): what Chromium's fake microphone plays
    (``--use-file-for-fake-audio-capture``), so that its own Opus encoder hears speech."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"voice-{seconds}s.wav"
    if not path.exists():
        _encode(VOICE.format(seconds=seconds), path, "pcm_s16le", {},
                bit_rate=0, rate=48000, layout="mono")  # fmt: skip
    return path


def read_frames(path: Path) -> list[tuple[bytes, bool]]:
    with av.open(str(path)) as container:
        stream = container.streams[0]
        return [(bytes(p), bool(p.is_keyframe)) for p in container.demux(stream) if p.size]


def vp8_payloads(frame: bytes) -> list[bytes]:
    """RTP payloads of one VP8 frame without descriptors (the sender prepends a 4-byte
    descriptor carrying the picture id, which the latency measurement keys on)."""
    size = MAX_PAYLOAD - 4
    return [frame[i : i + size] for i in range(0, len(frame), size)]


_DESC = struct.Struct("!BBH")


def vp8_descriptor(first: bool, picture_id: int) -> bytes:
    """X=1 (S=1 on a frame's first packet), I=1, 15-bit picture id."""
    return _DESC.pack(0x90 if first else 0x80, 0x80, 0x8000 | (picture_id & 0x7FFF))
