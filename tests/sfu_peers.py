"""Real in-process aiortc peers that talk to an ``Sfu`` the way a browser does.

A ``Client`` answers the server's offers, publishes whatever tracks it was given, and records
every RTP packet it receives below aiortc's jitter buffer (no depacketizer, no decoder), per
m-line, so tests can rebuild the encoded frames and compare them with what was sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.rtp import RtpPacket

from signaling.sfu import FrameAssembler, Sfu
from signaling.sfu import aiortc_hook as hook
from signaling.sfu.media import EncodedFrame


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
        self.pc = RTCPeerConnection()
        for track in tracks:
            self.pc.addTrack(track)
        self.offers: list[dict[str, Any]] = []
        self.tracks: dict[str, dict[str, str]] = {}  # mid -> {"peer", "label"} (latest offer)
        self.received: dict[str, Received] = {}  # mid -> packets
        self.states: list[str] = []
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
                hook.intercept_receiver(t.receiver, self._recorder(box))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.sfu.handle_answer(self.id, self.pc.localDescription.sdp)

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


async def wait_for(condition: Callable[[], bool], within: float = 15.0) -> None:
    """Poll ``condition`` until true; fail with the condition's name after ``within`` s."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition.__name__}")
        await asyncio.sleep(0.05)
