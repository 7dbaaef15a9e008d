"""What a kill may lose of a recording, and what keeping it small costs the writer.

Writes one camera (VP8, 640x480, 1.5 Mb/s) and one microphone (Opus) segment with
``recordings.writer.SegmentWriter`` in the recorder's batches (``BATCH_SECONDS`` of frames per
batch) for each candidate way of getting frames to the disk early:

- ``cluster-<ms>``: Matroska clusters of at most ``<ms>`` (the muxer writes a cluster when the
  next frame no longer fits it; what it holds is lost to a kill);
- ``journal``: 1 s clusters, plus every batch's frames appended to a per-segment journal
  (length, timestamp, keyframe flag, bytes) from which recovery would rebuild the file.

For each: ``writes_per_media_second`` (pwrite calls, i.e. write syscalls, per second of both
tracks), ``cpu_ms_per_media_second`` (the writer's CPU: muxing, plus the journal's framing),
``bytes_overhead_percent`` (file bytes beyond the frames' own), and ``max_lag_ms``: measured
after every batch, by demuxing a copy of the file as a kill would leave it, the media not yet
decodable on disk (the recorder adds at most one batch of waiting on top).

    .venv/bin/python bench/recording_cut.py --seconds 60 --json var/bench/recording-cut.json
"""

from __future__ import annotations

import argparse
import io
import os
import struct
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _media_clip import audio_clip, read_frames, video_clip  # noqa: E402
from _report import write_result  # noqa: E402

from recordings import spool, writer  # noqa: E402
from recordings.recorder import BATCH_SECONDS  # noqa: E402

FPS = {"video": 30, "audio": 50}
CLOCK_STEP = {"video": 3000, "audio": 960}
JOURNAL_HEAD = struct.Struct("<IQB")


def _decodable(data: bytes) -> int:
    try:
        with av.open(io.BytesIO(data), "r") as container:
            return len([p for p in container.demux(container.streams[0]) if p.size])
    except (av.FFmpegError, IndexError):
        return 0


def run(
    kind: str, frames: list[tuple[bytes, bool]], seconds: int, cluster_ms: int, journal: bool
) -> dict[str, Any]:
    per_batch = round(FPS[kind] * BATCH_SECONDS)
    total = FPS[kind] * seconds
    units = [frames[i % len(frames)] for i in range(total)]
    writes = 0
    real_write = spool.write_chunk

    def counting(file: spool.SpoolFile, offset: int, chunk: bytes) -> None:
        nonlocal writes
        writes += 1
        real_write(file, offset, chunk)

    spool.write_chunk = counting
    writer.CLUSTER_MS = cluster_ms
    lag = 0
    cpu = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seg.webm"
        w = writer.SegmentWriter(path, kind, started_at=datetime.now(UTC), width=640, height=480)
        jfd = os.open(Path(tmp) / "seg.journal", os.O_WRONLY | os.O_CREAT) if journal else None
        for start in range(0, total, per_batch):
            batch = units[start : start + per_batch]
            t0 = time.thread_time()
            for n, (data, key) in enumerate(batch, start):
                w.write(data, n * CLOCK_STEP[kind], key)
            if jfd is not None:
                out = bytearray()
                for n, (data, key) in enumerate(batch, start):
                    out += JOURNAL_HEAD.pack(len(data), n * CLOCK_STEP[kind], key) + data
                os.write(jfd, out)
                writes += 1
            cpu += time.thread_time() - t0
            if jfd is None:  # the journal's own lag is the batch: it holds every frame
                behind = start + len(batch) - _decodable(path.read_bytes())
                lag = max(lag, behind * 1000 // FPS[kind])
        w.close()
        size = path.stat().st_size
        if jfd is not None:
            os.close(jfd)
            size += (Path(tmp) / "seg.journal").stat().st_size
    spool.write_chunk = real_write
    payload = sum(len(d) for d, _ in units)
    return {
        "writes": writes,
        "cpu_s": cpu,
        "bytes": size,
        "payload": payload,
        "max_lag_ms": lag,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cache = Path(tempfile.gettempdir()) / "courtlink-bench-clips"
    clips = {
        "video": read_frames(video_clip(cache, 640, 480)),
        "audio": read_frames(audio_clip(cache)),
    }
    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    variants = [(f"cluster-{ms}", ms, False) for ms in (1000, 500, 250, 100)]
    variants.append(("journal", 1000, True))
    for name, ms, journal in variants:
        runs = {k: run(k, clips[k], args.seconds, ms, journal) for k in clips}
        media_s = args.seconds * len(runs)
        payload = sum(r["payload"] for r in runs.values())
        results[name] = {
            "writes_per_media_second": round(sum(r["writes"] for r in runs.values()) / media_s, 2),
            "cpu_ms_per_media_second": round(
                sum(r["cpu_s"] for r in runs.values()) * 1000 / media_s, 3
            ),
            "bytes_overhead_percent": round(
                (sum(r["bytes"] for r in runs.values()) - payload) * 100 / payload, 2
            ),
            "max_lag_ms": {k: r["max_lag_ms"] for k, r in runs.items()},
        }
    out = {
        "seconds": args.seconds,
        "batch_seconds": BATCH_SECONDS,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "variants": results,
    }
    write_result(out, args.json)


if __name__ == "__main__":
    main()
