"""Real in-process aiortc peers that talk to an ``Sfu`` the way a browser does.

A ``Client`` answers the server's offers, publishes whatever tracks it was given, and records
every RTP packet it receives below aiortc's jitter buffer (no depacketizer, no decoder), per
m-line, so tests can rebuild the encoded frames and compare them with what was sent.
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
from _ice import local_configuration
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket

from signaling.sfu import FrameAssembler, Sfu
from signaling.sfu.aiortc_hook.sending import send_link
from signaling.sfu.aiortc_hook.transceivers import (
    dtls_transport,
    intercept_receiver,
    receiver_started,
)
from signaling.sfu.media import EncodedFrame
from tests.media_clips import make_opus_clip, make_vp8_clip
from tests.waiting import wait_for


@dataclass
class Received:
    """Packets received on one m-line, in arrival order."""

    packets: list[RtpPacket] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)

    def frames(self, codec: str) -> list[EncodedFrame]:
        assembler = FrameAssembler(codec)
        out: list[EncodedFrame] = []
        for p in self.packets:
            out += assembler.push(p.sequence_number, p.timestamp, bool(p.marker), p.payload)
        return out


class Client:
    """One participant: a real RTCPeerConnection answering the SFU's offers."""

    def __init__(self, sfu: Sfu, peer_id: str, tracks: list[MediaStreamTrack] = ()) -> None:  # type: ignore[assignment]
        self.sfu = sfu
        self.id = peer_id
        self.pc = RTCPeerConnection(local_configuration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        for track in tracks:
            self.pc.addTrack(track)
        self.offers: list[dict[str, Any]] = []
        self.tracks: dict[str, dict[str, str]] = {}  # mid -> {"peer", "label"} (latest offer)
        self.received: dict[str, Received] = {}  # mid -> packets
        self.states: list[str] = []
        self.segments: list[tuple[str, int, dict[str, str] | None]] = []
        self.hold_answers = False
        self.held: list[dict[str, Any]] = []

    async def join(self) -> None:
        await self.sfu.add_peer(self.id, on_offer=self.on_offer, on_state=self.on_state)

    async def on_state(self, state: str) -> None:
        self.states.append(state)

    async def on_offer(self, offer: dict[str, Any]) -> None:
        self.offers.append(offer)
        if self.hold_answers:
            self.held.append(offer)
            return
        await self.answer(offer)

    async def answer(self, offer: dict[str, Any]) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        self.tracks = dict(offer["tracks"])
        for t in self.pc.getTransceivers():
            if t.mid is not None:
                box = self.received.setdefault(t.mid, Received())
                intercept_receiver(t.receiver, self._recorder(box))
        for mid, box in self.received.items():
            self.segments.append((mid, len(box.packets), self.tracks.get(mid)))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        if send_link(dtls_transport(self.pc)) is not None:
            # Renegotiation: let aiortc register the new m-lines' SSRCs before the SFU starts
            # sending on them, or it would discard the first packets (a browser does not).
            receiving = [
                t.receiver
                for t in self.pc.getTransceivers()
                if t.currentDirection in ("recvonly", "sendrecv")
            ]

            def receivers_ready() -> bool:
                return all(receiver_started(r) for r in receiving)

            await wait_for(receivers_ready)
        await self.sfu.handle_answer(self.id, self.pc.localDescription.sdp)

    def runs_of(self, peer_id: str, label: str) -> list[list[RtpPacket]]:
        """Packets of ``peer_id``'s ``label``, one list per period an m-line carried it (a
        slot's mapping changes only with an answer, so answers delimit the periods)."""
        want = {"peer": peer_id, "label": label}
        runs = []
        for i, (mid, start, info) in enumerate(self.segments):
            if info != want:
                continue
            later = [s for m, s, _ in self.segments[i + 1 :] if m == mid]
            end = later[0] if later else None
            runs.append(self.received[mid].packets[start:end])
        return runs

    def count_of(self, peer_id: str, label: str) -> int:
        return sum(len(run) for run in self.runs_of(peer_id, label))

    @staticmethod
    def _recorder(box: Received) -> Callable[[RtpPacket], None]:
        def record(packet: RtpPacket) -> None:
            box.packets.append(packet)
            box.arrivals.append(time.monotonic())

        return record

    def mids_of(self, peer_id: str, label: str) -> list[str]:
        """Every m-line that carried ``peer_id``'s ``label`` track in any offer."""
        return sorted(
            {
                mid
                for offer in self.offers
                for mid, info in offer["tracks"].items()
                if info == {"peer": peer_id, "label": label}
            }
        )

    def got(self, peer_id: str, label: str) -> Received:
        """All packets received of ``peer_id``'s ``label`` (current mapping)."""
        mids = [m for m, info in self.tracks.items() if info == {"peer": peer_id, "label": label}]
        return self.received.get(mids[0], Received()) if mids else Received()

    async def close(self) -> None:
        await self.pc.close()


_CLIPS: dict[str, Path] = {}


def small_clips() -> dict[str, Path]:
    """Small clips for the SFU tests, encoded once per test process (VP8 160x120, keyframe
    every 15 frames; Opus tone), in a temporary directory removed at exit."""
    if not _CLIPS:
        base = Path(tempfile.mkdtemp(prefix="sfu-clips-"))
        atexit.register(shutil.rmtree, base, True)
        _CLIPS["video"] = make_vp8_clip(base / "clip.webm", frames=60, width=160, height=120)
        _CLIPS["audio"] = make_opus_clip(base / "tone.ogg", seconds=2.0)
    return _CLIPS


class ClipTrack(MediaStreamTrack):
    """Sends a clip's encoded packets as they are (no decode, no encode), in real time, looped
    with continuous timestamps: a lighter and steadier publisher source than MediaPlayer."""

    def __init__(self, path: Path, *, loop: bool = True) -> None:
        super().__init__()
        with av.open(str(path)) as container:
            stream = container.streams[0]
            self.kind = "video" if stream.type == "video" else "audio"
            self._time_base = stream.time_base
            self._items = [(bytes(p), p.pts) for p in container.demux(stream) if p.size]
        step = self._items[1][1] - self._items[0][1]
        self._span = self._items[-1][1] - self._items[0][1] + step
        self._loop = loop
        self._index = 0
        self.sent = 0  # packets handed to the sender so far
        self._start: float | None = None

    async def recv(self) -> av.Packet:
        if self._index >= len(self._items) and not self._loop:
            self.stop()
            raise MediaStreamError
        rounds, i = divmod(self._index, len(self._items))
        data, pts = self._items[i]
        pts += rounds * self._span
        self._index += 1
        self.sent += 1
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + float(pts * self._time_base)
        if due > now:
            await asyncio.sleep(due - now)
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = self._time_base
        return packet


def clip_tracks(loop: bool = True) -> list[MediaStreamTrack]:
    """Audio and camera tracks replaying the small clips."""
    clips = small_clips()
    return [ClipTrack(clips["audio"], loop=loop), ClipTrack(clips["video"], loop=loop)]
