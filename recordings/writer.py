"""One track-segment file: encoded VP8 or Opus frames remuxed into WebM with PyAV.

No codec is opened here, neither decoder nor encoder: streams are created with
``add_mux_stream`` (no codec context at all) and each frame becomes an ``av.Packet`` that
``container.mux`` writes as it is.

Crash safety: the segment starts with an unknown size and the muxer writes each cluster
whole when the next frame no longer fits it, so a process killed at any instant leaves a file
that plays up to its last cluster handed on; the open cluster (held in memory by the muxer)
is what a kill loses. Clusters are therefore short: at most ``CLUSTER_MS`` = 250 ms. The
bytes reach the kernel at once, or through the recorder's disk thread (``recordings.spool``)
at its next batch (``recordings.recorder.BATCH_SECONDS``, 0.5 s); so a SIGKILL loses at most
about 0.76 s of any track, from the first frame of every segment on (a segment killed 0.8 s
after it opened still decodes). ``flush_packets`` only hands bytes on; it does not end a
cluster. ``maybe_sync`` adds an ``fsync`` at most every ``SYNC_SECONDS`` so the same holds
across a power cut, up to that interval.

Why short clusters and not a packet journal rebuilt at recovery: measured with
``bench/recording_cut.py`` (bench/README.md, "Recording: what a kill loses"), 250 ms
clusters left at most 260 ms of a track undecodable on disk after a batch, for 5.95 writes
per track-second (3.52 with 1 s clusters), the same muxing CPU within noise (0.18 against
0.16 ms per track-second) and +0.06 % bytes; a journal beside 1 s clusters loses nothing of
a written batch but writes every byte twice (+101 %), for a file that only plays after
recovery has rebuilt it.

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
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av

from recordings import spool
from recordings.rtp import Frame
from recordings.spool import DiskWriter, SpoolFile

CLUSTER_MS = 250  # what a kill may lose of a track beyond the recorder's batch
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
    """Appends frames of one track to one WebM file. Not thread-safe: one thread writes it
    (the recorder's: the event loop's)."""

    def __init__(
        self,
        path: Path,
        kind: str,
        *,
        started_at: datetime,
        width: int = 0,
        height: int = 0,
        tags: dict[str, str] | None = None,
        disk: DiskWriter | None = None,
    ) -> None:
        if kind not in CLOCK:
            raise ValueError(f"unknown track kind {kind!r}")
        self.path = path
        self.kind = kind
        self.clock = CLOCK[kind]
        self.started_at = started_at
        self.width, self.height = width, height
        self._disk = disk
        # PyAV writes into memory; the bytes reach the file through ``disk`` (or at once)
        self._file = SpoolFile(path, disk)
        self._container = av.open(
            self._file,
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
        self._base: int | None = None  # first RTP timestamp, unwrapped
        self._last_raw: int | None = None
        self._last_pts = -1
        self._wrap = 0
        self.frames = 0
        self.keyframes = 0
        self.bytes = 0
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
        self.write_many((Frame(data, timestamp, keyframe),))

    def write_many(self, frames: Iterable[Frame]) -> None:
        """Mux frames (in order) stamped with their RTP timestamps."""
        if self._file.error is not None:  # an earlier batch failed on disk (full?)
            raise self._file.error
        mux, clock = self._container.mux_one, self.clock
        half = clock // 2
        last_pts = self._last_pts
        frames_done = keyframes = size = 0
        try:
            for frame in frames:
                ts = frame.timestamp
                if self._last_raw is not None and not 0 <= ts - self._last_raw < 0x80000000:
                    ts = self._unwrap(ts)  # a wrap, or a step back: rare, so not inlined
                else:
                    self._last_raw = ts
                    ts += self._wrap
                if self._base is None:
                    self._base = ts
                # A muxer refuses time going backwards (a publisher restarting its clock):
                # hold the frame at the last time rather than lose it.
                pts = ts - self._base
                if pts < last_pts:
                    pts = last_pts
                data = frame.data
                # Neither stream nor time base is set per packet: the file's one stream is
                # index 0, and a packet without a time base is taken in the stream's (ms).
                # Rounded as a rescale would.
                packet = av.Packet(data)
                packet.pts = packet.dts = (pts * 1000 + half) // clock
                packet.is_keyframe = frame.keyframe
                mux(packet)
                last_pts = pts
                frames_done += 1
                keyframes += frame.keyframe
                size += len(data)
        finally:
            self._last_pts = last_pts
            self.frames += frames_done
            self.keyframes += keyframes
            self.bytes += size
            if self._disk is not None:
                self._disk.write(self._file)

    def maybe_sync(self, force: bool = False) -> None:
        """fsync the file if the last sync is older than ``SYNC_SECONDS``."""
        now = time.monotonic()
        if not force and now - self._synced_at < SYNC_SECONDS:
            return
        self._synced_at = now
        if self._disk is not None:
            self._disk.sync(self._file)
        else:
            spool.sync(self._file)

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

    def close(self, done: Callable[[OSError | None], None] | None = None) -> SegmentStats:
        """Write the trailer (duration, cues) and release the file. Idempotent. With a
        ``DiskWriter`` the file is complete on disk only when ``done(error)`` is called
        (on the loop); without one, before this returns."""
        if not self.closed:
            self.closed = True
            try:
                # With no frame muxed PyAV never wrote a byte: no file is left behind.
                self._container.close()
            finally:
                if self._disk is not None:
                    self._disk.close(self._file, done or (lambda error: None))
                else:
                    spool.close(self._file)
                    if done is not None:
                        done(self._file.error)
        return self.stats()


def now_utc() -> datetime:
    return datetime.now(UTC)
