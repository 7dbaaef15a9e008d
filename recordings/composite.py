"""The composite playback file: every video segment of a session in a grid, every audio
segment mixed, on one timeline from the segments' wall-clock starts.

This is the one place that decodes and encodes, off the live path, in a worker thread (see
``recordings.jobs``). The per-track files stay the primary record; this is a convenience copy.
Work is done one second of timeline at a time so memory stays flat for long sessions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import numpy as np

FPS = 15
TILE = (320, 240)
RATE = 48000


@dataclass
class Source:
    path: Path
    kind: str  # video | audio
    slot: str  # one grid cell per participant's camera / screen
    start_ms: int  # from the start of the composite timeline
    duration_ms: int


@dataclass
class _Video:
    src: Source
    frames: Iterator[av.VideoFrame]
    container: av.container.InputContainer
    current: np.ndarray | None = None
    pending: av.VideoFrame | None = None
    done: bool = False

    def at(self, t_ms: float) -> np.ndarray | None:
        """The newest frame shown at ``t_ms`` (timeline time), as an RGB tile."""
        while not self.done:
            if self.pending is None:
                try:
                    self.pending = next(self.frames)
                except (StopIteration, av.FFmpegError):
                    self.done = True
                    break
            shown = self.src.start_ms + (self.pending.time or 0.0) * 1000
            if shown > t_ms:
                break
            self.current = self.pending.reformat(TILE[0], TILE[1], "rgb24").to_ndarray()
            self.pending = None
        return self.current


@dataclass
class _Audio:
    src: Source
    container: av.container.InputContainer
    packets: Iterator[Any]
    resampler: av.AudioResampler = field(
        default_factory=lambda: av.AudioResampler(format="s16", layout="mono", rate=RATE)
    )
    buf: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    buf_start: int = 0  # timeline sample index of buf[0]
    done: bool = False

    def read(self, a: int, b: int) -> np.ndarray:
        """Samples [a, b) of the timeline from this source (zeros where it is silent)."""
        while not self.done and self.buf_start + len(self.buf) < b:
            try:
                packet = next(self.packets)
            except (StopIteration, av.FFmpegError):
                self.done = True
                break
            if packet.size == 0 or packet.pts is None:
                continue
            at = (self.src.start_ms + float(packet.pts * packet.time_base) * 1000) * RATE // 1000
            chunks = [
                out.to_ndarray().reshape(-1)
                for frame in cast(list[av.AudioFrame], packet.decode())
                for out in self.resampler.resample(frame)
            ]
            if not chunks:
                continue
            end = self.buf_start + len(self.buf)
            gap = int(at) - end
            if len(self.buf) == 0:
                self.buf_start, gap = int(at), 0
            pad = [np.zeros(gap, np.int16)] if gap > 0 else []
            self.buf = np.concatenate([self.buf, *pad, *chunks])
        out = np.zeros(b - a, np.int32)
        lo, hi = max(a, self.buf_start), min(b, self.buf_start + len(self.buf))
        if hi > lo:
            out[lo - a : hi - a] = self.buf[lo - self.buf_start : hi - self.buf_start]
        drop = max(0, b - self.buf_start)
        self.buf, self.buf_start = self.buf[drop:], self.buf_start + drop
        return out


def render(sources: list[Source], out: Path, progress: Callable[[float], None]) -> int:
    """Write the composite WebM to ``out``; returns its duration in ms."""
    total_ms = max((s.start_ms + s.duration_ms for s in sources), default=0)
    if total_ms <= 0:
        raise ValueError("nothing to compose: no segment has media")
    slots = sorted({s.slot for s in sources if s.kind == "video"})
    cols = max(1, math.ceil(math.sqrt(len(slots))))
    rows = max(1, math.ceil(len(slots) / cols))
    width, height = cols * TILE[0], rows * TILE[1]
    videos = []
    audios = []
    for s in sorted(sources, key=lambda s: s.start_ms):
        container = av.open(str(s.path))
        if s.kind == "video":
            videos.append(_Video(s, container.decode(video=0), container))
        else:
            audios.append(_Audio(s, container, container.demux(audio=0)))
    tmp = out.with_name(out.name + ".part")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with av.open(str(tmp), "w", format="webm") as dst:
            vout = aout = None
            if slots:
                vout = dst.add_stream("libvpx", rate=FPS, width=width, height=height)
                vout.codec_context.options = {"deadline": "realtime", "cpu-used": "8"}
                vout.bit_rate = 300_000 * len(slots)
            if audios:
                aout = dst.add_stream("libopus", rate=RATE, layout="mono")
                aout.bit_rate = 64_000
            frame_no = 0
            sample_no = 0
            for second in range(math.ceil(total_ms / 1000)):
                end_ms = min(total_ms, (second + 1) * 1000)
                while vout is not None and frame_no * 1000 / FPS < end_ms:
                    t = frame_no * 1000 / FPS
                    canvas = np.zeros((height, width, 3), np.uint8)
                    for v in videos:
                        if v.src.start_ms <= t < v.src.start_ms + v.src.duration_ms + 1000:
                            tile = v.at(t)
                            if tile is not None:
                                i = slots.index(v.src.slot)
                                y, x = (i // cols) * TILE[1], (i % cols) * TILE[0]
                                canvas[y : y + TILE[1], x : x + TILE[0]] = tile
                    frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
                    frame.pts, frame.time_base = frame_no, Fraction(1, FPS)
                    dst.mux(vout.encode(frame.reformat(format="yuv420p")))
                    frame_no += 1
                end_sample = end_ms * RATE // 1000
                while aout is not None and sample_no < end_sample:
                    n = min(960, end_sample - sample_no)
                    mix = np.zeros(n, np.int32)
                    for a in audios:
                        mix += a.read(sample_no, sample_no + n)
                    pcm = np.clip(mix, -32768, 32767).astype(np.int16).reshape(1, -1)
                    aframe = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
                    aframe.sample_rate, aframe.pts = RATE, sample_no
                    aframe.time_base = Fraction(1, RATE)
                    dst.mux(aout.encode(aframe))
                    sample_no += n
                progress(min(1.0, end_ms / total_ms))
            for stream in (vout, aout):
                if stream is not None:
                    dst.mux(stream.encode(None))
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
        items: list[_Video | _Audio] = [*videos, *audios]
        for item in items:
            item.container.close()
    return total_ms
