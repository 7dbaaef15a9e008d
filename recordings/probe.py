"""Facts about a recorded file, read by demuxing only (no decoder): SHA-256, size, frames,
keyframes and duration. Used when sealing, recovering and verifying."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import av

CHUNK = 1 << 20


@dataclass
class FileFacts:
    sha256: str
    size: int
    frames: int
    keyframes: int
    duration_ms: int
    readable: bool
    error: str = ""


def sha256_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def probe(path: Path) -> FileFacts:
    digest, size = sha256_file(path)
    frames = keyframes = 0
    first: float | None = None
    end = 0.0
    try:
        with av.open(str(path)) as container:
            stream = container.streams[0]
            tb = float(stream.time_base or 0.001)
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None:
                    continue
                frames += 1
                keyframes += int(packet.is_keyframe)
                start = packet.pts * tb
                if first is None:
                    first = start
                # Opus packets carry their length; a video frame lasts until the next one.
                end = max(end, start + (packet.duration or 0) * tb)
    except (av.FFmpegError, IndexError) as exc:
        return FileFacts(digest, size, frames, keyframes, 0, False, str(exc))
    duration = round((end - (first or 0.0)) * 1000) if frames else 0
    return FileFacts(digest, size, frames, keyframes, duration, True)
