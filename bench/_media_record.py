"""The recording side of the media benchmark's server (``_media_server.py --record DIR``).

Attaches the product's ``recordings.recorder.Recorder`` to the SFU through a tap that does at
track start and end what the hub does for its listeners (``signaling.listeners``): it hands
the recorder typed ``signaling.events`` and gives the SFU the sink the recorder returns, so
the recorder's own ``TrackSink.push`` is what the SFU calls per packet and nothing of the
benchmark's sits on that path. Each bench room ``roomN`` is the main room of session N + 1,
recorded; each peer is a participant of it.

What should be recorded is what the SFU received from the publishers: each peer's published
track counters are read the moment before the peer is removed (``peer_leaving``), in the same
synchronous step, so no packet arrives in between. What was recorded is counted in the
written files by demuxing them with PyAV, not taken from the recorder's own counters (those
are reported beside it as a cross-check).
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
from aiohttp import web

from recordings.events import Alarm, Closed, Opened
from recordings.recorder import Recorder
from signaling.events import Kind, PacketSink, Participant, Source, TrackEnded, TrackStarted
from signaling.sfu import Sfu

_SOURCES: dict[str, Source] = {"camera": "camera", "audio": "microphone", "screen": "screen"}


def _session_of(room: str) -> int | None:
    if not room.startswith("room") or not room[4:].isdigit():
        return None
    return int(room[4:]) + 1


class _Tap:
    """The SFU's tap for the bench: the typed track events, as the hub makes them."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.started: dict[tuple[str, str], TrackEnded] = {}

    def on_track_start(
        self, peer_id: str, room: str, track_id: str, kind: str, label: str, codec: str
    ) -> PacketSink | None:
        session_id = _session_of(room)
        if session_id is None or label not in _SOURCES:
            return None
        who = Participant(peer_id, peer_id, "party")
        typed: Kind = "video" if kind == "video" else "audio"
        source, clock_rate = _SOURCES[label], 90000 if typed == "video" else 48000
        event = TrackStarted(session_id, "main", who, source, typed, codec, clock_rate)
        self.started[(peer_id, track_id)] = TrackEnded(session_id, "main", who, source, "left")
        return self.recorder.on_track_start(event)

    def on_track_end(self, peer_id: str, track_id: str, reason: str) -> None:
        ended = self.started.pop((peer_id, track_id), None)
        if ended is not None:
            why = "moved" if reason == "moved" else "left"
            self.recorder.on_track_end(replace(ended, reason=why))


def count_file_frames(root: Path) -> dict[str, int]:
    """Frames (non-empty packets) in every WebM file under ``root``, by track kind."""
    counts = {"video": 0, "audio": 0, "files": 0, "bytes": 0}
    for path in sorted(root.rglob("*.webm")):
        counts["files"] += 1
        counts["bytes"] += path.stat().st_size
        with av.open(str(path)) as container:
            stream = container.streams[0]
            kind = stream.type  # read before closing: the stream dies with its container
            frames = sum(1 for packet in container.demux(stream) if packet.size)
        counts["video" if kind == "video" else "audio"] += frames
    return counts


class RecordingProbe:
    def __init__(self, root: Path, sfu: Sfu) -> None:
        self.root = root
        self.sfu = sfu
        self.events: list[Opened | Closed | Alarm] = []
        self.published: dict[str, dict[str, Any]] = {}
        self.recorder = Recorder(root, wants=lambda session, room: True, events=self.events.append)
        self.tap = _Tap(self.recorder)
        self._closed = False

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.recorder.start()
        self.sfu.add_tap(self.tap)

    def disk_thread_id(self) -> int:
        """The recorder's disk thread (its muxing runs on the event loop)."""
        disk = self.recorder.segments.disk
        return disk.native_id if disk is not None else 0

    def counters(self) -> dict[str, float]:
        """Read at both ends of the measured window: the recorder's own CPU on the loop."""
        gc_stats = gc.get_stats()
        return {
            "batch_cpu_seconds": self.recorder.batch_cpu_seconds,
            "packets": self.recorder.packets,
            **{f"gc{n}_collections": g["collections"] for n, g in enumerate(gc_stats)},
            "gc_objects": len(gc.get_objects()),
        }

    def peer_leaving(self, peer_id: str, stats: dict[str, Any] | None) -> None:
        if stats is not None:
            self.published[peer_id] = stats["published"]

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.sfu.remove_tap(self.tap)
            await self.recorder.stop()

    async def handle(self, request: web.Request) -> web.Response:
        """Once every peer has left: close the recorder, then compare files and publishers."""
        deadline = time.monotonic() + 30
        while self.sfu.stats() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        left = len(self.sfu.stats())
        await self.close()
        await asyncio.sleep(0)  # let the recorder's last events land
        files = await asyncio.to_thread(count_file_frames, self.root)
        tracks = [t for peer in self.published.values() for t in peer.values()]
        video = sum(t["frames_in"] for t in tracks if t["track_id"].endswith(":camera"))
        # Opus is one frame per packet and WebRTC senders set no marker bit on audio
        audio = sum(t["packets_in"] for t in tracks if t["track_id"].endswith(":audio"))
        closed = [e for e in self.events if isinstance(e, Closed)]
        return web.json_response(
            {
                "peers_still_connected": left,
                "forwarded_frames": video + audio,
                "forwarded_video_frames": video,
                "forwarded_audio_frames": audio,
                "recorded_frames": files["video"] + files["audio"],
                "recorded_video_frames": files["video"],
                "recorded_audio_frames": files["audio"],
                "recorder_counted_frames": self.recorder.recorded_frames,
                "recorded_files": files["files"],
                "recorded_bytes": files["bytes"],
                "recorded_tracks": sum(1 for e in self.events if isinstance(e, Opened)),
                "lost_frames": sum(c.lost_frames for c in closed),
                "skipped_frames": sum(c.skipped_frames for c in closed),
                "failed_segments": sum(1 for c in closed if c.failed),
                "alarms": [f"{a.reason}: {a.message}" for a in self.events if isinstance(a, Alarm)],
                "overflow_packets": self.recorder.overflow,
            }
        )
