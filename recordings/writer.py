"""One track-segment file: encoded VP8 or Opus frames remuxed into WebM with PyAV.

No codec is opened here, neither decoder nor encoder: streams are created with
``add_mux_stream`` (no codec context at all) and each frame becomes an ``av.Packet`` that
``container.mux`` writes as it is.

Crash safety comes from how the Matroska muxer writes: the segment starts with an
unknown size, every cluster is written whole (at most ``CLUSTER_MS`` long), and
``flush_packets`` pushes the bytes to the kernel after each packet, so a process killed at any
instant leaves a file that plays up to its last complete cluster. ``maybe_sync`` adds an
``fsync`` at most every ``SYNC_SECONDS`` so the same holds across a power cut.

Each file describes itself in its header (Matroska tags: segment id, session, participant,
track, wall-clock start as DateUTC), so crash recovery can register a file even if its
database row was never written.

An Opus track needs its identification header (RFC 7845 "OpusHead") as CodecPrivate, or
players and decoders must guess channels and pre-skip. A stream made by ``add_mux_stream``
has no way to carry it, so Opus streams are made from a template stream instead: the
template's codec context is only a holder for the parameters, never opened.
"""

from __future__ import annotations

import functools
import io
import os
import struct
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av

CLUSTER_MS = 1000
SYNC_SECONDS = 2.0
CLOCK = {"video": 90000, "audio": 48000}
MKV_TIME_BASE = Fraction(1, 1000)
# WebRTC Opus is 48 kHz with two channels in its SDP (RFC 7587), whatever the encoder sends.
OPUS_CHANNELS = 2
# The encoder's lookahead (libopus: 2.5 ms + 4 ms at 48 kHz, what browsers use): the samples
# a decoder drops at the start. A segment that starts mid-stream loses 6.5 ms of warm-up.
OPUS_PRE_SKIP = 312


def opus_head(channels: int = OPUS_CHANNELS, pre_skip: int = OPUS_PRE_SKIP) -> bytes:
    """The OpusHead packet (RFC 7845 section 5.1): version 1, mapping family 0."""
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, pre_skip, 48000, 0, 0)


@functools.cache
def _opus_template() -> bytes:
    # A one-packet WebM in memory; opened as input it yields a stream with a codec context
    # (unopened, a decoder's) that ``add_stream_from_template`` accepts.
    buf = io.BytesIO()
    with av.open(buf, "w", format="webm") as container:
        stream = container.add_mux_stream("opus", rate=48000, time_base=MKV_TIME_BASE)
        packet = av.Packet(b"\xfc\xff\xfe")  # one 20 ms silent Opus frame
        packet.stream = stream
        packet.pts = packet.dts = 0
        container.mux(packet)
    return buf.getvalue()


def add_opus_stream(container: av.container.OutputContainer) -> av.stream.Stream:
    """An Opus stream for pre-encoded packets, with its OpusHead as CodecPrivate."""
    with av.open(io.BytesIO(_opus_template())) as template:
        stream = container.add_stream_from_template(template.streams.audio[0], opaque=True)
    ctx = stream.codec_context
    ctx.extradata = opus_head()
    ctx.layout = "stereo"
    ctx.sample_rate = 48000
    stream.time_base = MKV_TIME_BASE
    return stream


@dataclass
class SegmentStats:
    frames: int
    keyframes: int
    bytes: int
    duration_ms: int
    first_ts: int | None
    last_ts: int | None


class SegmentWriter:
    """Appends frames of one track to one WebM file. Not thread-safe: one writer thread."""

    def __init__(
        self,
        path: Path,
        kind: str,
        *,
        started_at: datetime,
        width: int = 0,
        height: int = 0,
        tags: dict[str, str] | None = None,
    ) -> None:
        if kind not in CLOCK:
            raise ValueError(f"unknown track kind {kind!r}")
        self.path = path
        self.kind = kind
        self.clock = CLOCK[kind]
        self.started_at = started_at
        self.width, self.height = width, height
        path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(
            str(path),
            "w",
            format="webm",
            options={"cluster_time_limit": str(CLUSTER_MS), "flush_packets": "1"},
        )
        meta = self._container.metadata
        meta["creation_time"] = started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for key, value in (tags or {}).items():
            meta[f"COURTLINK_{key.upper()}"] = value
        if kind == "video":
            self._stream = self._container.add_mux_stream(
                "vp8", width=width, height=height, time_base=MKV_TIME_BASE
            )
        else:
            self._stream = add_opus_stream(self._container)
        self._packet_tb = Fraction(1, self.clock)
        self._base: int | None = None  # first RTP timestamp, unwrapped
        self._last_raw: int | None = None
        self._last_pts = -1
        self._wrap = 0
        self.frames = 0
        self.keyframes = 0
        self.bytes = 0
        self._sync_fd: int | None = None
        self._synced_at = time.monotonic()
        self.closed = False

    def _unwrap(self, ts: int) -> int:
        # RTP timestamps are 32-bit and wrap (about every 13 h at 90 kHz, sooner from a
        # random start): keep a running offset so pts only ever grows.
        if self._last_raw is not None:
            delta = (ts - self._last_raw) & 0xFFFFFFFF
            if delta < 0x80000000 and ts < self._last_raw:
                self._wrap += 1 << 32
            elif delta >= 0x80000000 and ts > self._last_raw:
                self._wrap -= 1 << 32
        self._last_raw = ts
        return ts + self._wrap

    def write(self, data: bytes, timestamp: int, keyframe: bool) -> None:
        """Mux one encoded frame stamped with its RTP timestamp."""
        ts = self._unwrap(timestamp)
        if self._base is None:
            self._base = ts
        pts = ts - self._base
        # A muxer refuses time going backwards (a publisher restarting its clock): hold the
        # frame at the last time rather than lose it.
        pts = max(pts, self._last_pts)
        packet = av.Packet(data)
        packet.stream = self._stream
        packet.time_base = self._packet_tb
        packet.pts = packet.dts = pts
        packet.is_keyframe = keyframe
        self._container.mux(packet)
        self._last_pts = pts
        self.frames += 1
        self.keyframes += int(keyframe)
        self.bytes += len(data)

    def maybe_sync(self, force: bool = False) -> None:
        """fsync the file if the last sync is older than ``SYNC_SECONDS``."""
        now = time.monotonic()
        if not force and now - self._synced_at < SYNC_SECONDS:
            return
        self._synced_at = now
        if self._sync_fd is None:
            if not self.path.exists():
                return
            self._sync_fd = os.open(self.path, os.O_RDONLY)
        os.fsync(self._sync_fd)

    def stats(self) -> SegmentStats:
        frame_ms = 20 if self.kind == "audio" else 0
        duration = 0
        if self._base is not None:
            duration = round(self._last_pts * 1000 / self.clock) + frame_ms
        return SegmentStats(
            frames=self.frames,
            keyframes=self.keyframes,
            bytes=self.bytes,
            duration_ms=duration,
            first_ts=self._base,
            last_ts=(self._base + self._last_pts) if self._base is not None else None,
        )

    def close(self) -> SegmentStats:
        """Write the trailer (duration, cues) and release the file. Idempotent."""
        if not self.closed:
            self.closed = True
            try:
                # With no frame muxed PyAV never opened the file: nothing is left behind.
                self._container.close()
            finally:
                if self._sync_fd is not None:
                    try:
                        os.fsync(self._sync_fd)
                    finally:
                        os.close(self._sync_fd)
                        self._sync_fd = None
        return self.stats()


def now_utc() -> datetime:
    return datetime.now(UTC)
