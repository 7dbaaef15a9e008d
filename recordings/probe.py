"""Facts about a recorded file: SHA-256, size, frames, keyframes and duration read by demuxing
only (no decoder), used when sealing and recovering; and ``decoded_frames``, which opens a
decoder as a player would, used by ``courtlink recordings verify``.

Error texts never carry the file's path (PyAV's do, absolute): they go into stored notes and
reports, which name files relative to the recordings directory."""

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
        return FileFacts(digest, size, frames, keyframes, 0, False, describe(exc))
    duration = round((end - (first or 0.0)) * 1000) if frames else 0
    return FileFacts(digest, size, frames, keyframes, duration, True)


def describe(exc: BaseException) -> str:
    """An error's text without the file name PyAV and the OS put in it."""
    if isinstance(exc, (av.FFmpegError, OSError)) and exc.strerror:
        return str(exc.strerror)
    return str(exc) if exc.args else type(exc).__name__


def decoded_frames(path: Path) -> tuple[int, str]:
    """Open ``path`` and decode its one stream: (frames decoded, error). A file that does not
    open, or a packet that does not decode, is an error; a file with no frame decodes none."""
    frames = 0
    try:
        with av.open(str(path)) as container:
            stream = container.streams[0]
            stream.codec_context.thread_type = "AUTO"
            for packet in container.demux(stream):
                frames += len(packet.decode())
    except (av.FFmpegError, IndexError, OSError) as exc:
        return frames, describe(exc)
    return frames, ""
