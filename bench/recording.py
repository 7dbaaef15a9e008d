"""What recording adds to the server: the tap's CPU per recorded stream-second, and whether
every forwarded frame reaches the file.

Runs the real ``recordings.recorder.Recorder`` (writer thread, PyAV remux, fsync) in this
process on what the SFU hands its tap: pre-packetized RTP of a pre-encoded VP8 clip and an
Opus clip, ``--streams`` publishers (camera + audio each), replayed at real time for
``--seconds``. The same replay is run once with a tap that does nothing; the difference in
process CPU time (all threads) is the recording's cost. Compare it with the SFU's own
``server_cpu_ms_per_stream_second`` from ``bench/media.py`` (bench/README.md) for the 10%
target.

    .venv/bin/python bench/recording.py --streams 6 --seconds 20 --width 1280 --height 720 \\
        --json var/bench-recording.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recordings.recorder import Closed, Recorder
from tests.recording_media import opus_clip, rtp_stream, vp8_clip


class NullTap:
    def on_track_start(self, *args: Any) -> None:
        pass

    def on_media(self, peer_id: str, track_id: str, packet: Any) -> None:
        pass

    def on_track_end(self, *args: Any) -> None:
        pass


async def replay(tap: Any, streams: int, seconds: float, video: list, audio: list) -> int:
    """Feed ``streams`` publishers' packets to ``tap`` at real time; returns frames sent."""
    for n in range(streams):
        tap.on_track_start(f"p{n}", "1:main", f"p{n}:camera", "video", "camera", "VP8")
        tap.on_track_start(f"p{n}", "1:main", f"p{n}:audio", "audio", "audio", "opus")
    # Each clip packet at its due time (90 kHz / 48 kHz timestamps), looped with a 20 ms tick.
    v_span = (video[-1].timestamp - video[0].timestamp) + 3000
    a_span = (audio[-1].timestamp - audio[0].timestamp) + 960
    start = time.monotonic()
    vi = ai = 0
    frames = 0
    while (now := time.monotonic() - start) < seconds:
        while True:
            loop, i = divmod(vi, len(video))
            pkt = video[i]
            due = (pkt.timestamp - video[0].timestamp + loop * v_span) / 90000
            if due > now:
                break
            for n in range(streams):
                tap.on_media(f"p{n}", f"p{n}:camera", _shifted(pkt, loop * v_span))
            frames += streams * int(bool(pkt.marker))
            vi += 1
        while True:
            loop, i = divmod(ai, len(audio))
            pkt = audio[i]
            due = (pkt.timestamp - audio[0].timestamp + loop * a_span) / 48000
            if due > now:
                break
            for n in range(streams):
                tap.on_media(f"p{n}", f"p{n}:audio", _shifted(pkt, loop * a_span))
            frames += streams
            ai += 1
        await asyncio.sleep(0.02)
    for n in range(streams):
        tap.on_track_end(f"p{n}", f"p{n}:camera")
        tap.on_track_end(f"p{n}", f"p{n}:audio")
    return frames


class _Pkt:
    __slots__ = ("marker", "payload", "sequence_number", "timestamp")

    def __init__(self, base: Any, shift: int) -> None:
        self.payload = base.payload
        self.marker = base.marker
        self.timestamp = (base.timestamp + shift) & 0xFFFFFFFF
        self.sequence_number = base.sequence_number


def _shifted(pkt: Any, shift: int) -> Any:
    return pkt if shift == 0 else _Pkt(pkt, shift)


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.webm"))


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    clip_v = vp8_clip(2.0, 30, args.width, args.height, 30, args.kbps)
    clip_a = opus_clip(2.0)
    video = rtp_stream(clip_v, "video", seq0=0, ts0=1_000_000)
    audio = rtp_stream(clip_a, "audio", seq0=0, ts0=1_000_000)
    out: dict[str, Any] = {
        "streams": args.streams,
        "seconds": args.seconds,
        "width": args.width,
        "height": args.height,
    }

    cpu0 = time.process_time()
    await replay(NullTap(), args.streams, args.seconds, video, audio)
    base_cpu = time.process_time() - cpu0

    with tempfile.TemporaryDirectory(dir=args.dir) as root:
        closed: list[Closed] = []
        recorder = Recorder(
            Path(root),
            resolve=lambda r: (1, "main"),
            wants=lambda s, p: True,
            events=lambda e: closed.append(e) if isinstance(e, Closed) else None,
        )
        cpu0 = time.process_time()
        recorder.start()
        forwarded = await replay(recorder, args.streams, args.seconds, video, audio)
        await recorder.stop()
        rec_cpu = time.process_time() - cpu0
        size = _size(Path(root))
    recorded = sum(c.stats.frames for c in closed)
    stream_seconds = args.streams * 2 * args.seconds  # camera + audio per publisher
    video_stream_seconds = args.streams * args.seconds
    out.update(
        baseline_cpu_s=round(base_cpu, 3),
        with_recording_cpu_s=round(rec_cpu, 3),
        recording_cpu_ms_per_stream_second=round((rec_cpu - base_cpu) * 1000 / stream_seconds, 3),
        recording_cpu_ms_per_video_stream_second=round(
            (rec_cpu - base_cpu) * 1000 / video_stream_seconds, 3
        ),
        forwarded_frames=forwarded,
        recorded_frames=recorded,
        recorded_over_forwarded=round(recorded / forwarded, 5) if forwarded else 0.0,
        lost_frames=sum(c.lost_frames for c in closed),
        overflow_packets=recorder.overflow,
        bytes_written=size,
        segments=len(closed),
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=6, help="publishers (camera + audio)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--kbps", type=int, default=1500, help="VP8 clip bitrate")
    parser.add_argument("--dir", default=None, help="where to write (default: system temp)")
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args()
    result = asyncio.run(measure(args))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
