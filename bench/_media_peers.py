"""Lean load peers for bench/media.py: many participants in one process, cheap per packet.

Each peer uses a real aiortc RTCPeerConnection only for ICE, DTLS and the SRTP keys (it
answers the server's offers like a browser). Publishers then replay a pre-packetized VP8 clip
(and Opus) straight through the negotiated SRTP session at the clip's frame rate, answering
keyframe requests by jumping to a keyframe; subscribers count packets below aiortc's jitter
buffer (no reassembly, no decode) and time each frame by the VP8 picture id the publisher
wrote (the SFU does not touch payloads), so forwarding latency is receive time minus send time
of a frame's last packet, both on this machine's monotonic clock.

Protocol with the orchestrator: prints ``READY`` when every local subscriber gets frames from
all expected publishers, ``CYCLE <i>`` per join/leave cycle; reads ``STOP`` on stdin, then
prints ``RESULT <json>`` and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from _ice import local_configuration
from aiortc import RTCBundlePolicy, RTCPeerConnection, RTCSessionDescription
from aiortc.rtp import RTCP_PSFB_FIR, RTCP_PSFB_PLI, RtcpPsfbPacket
from aiortc.sdp import SessionDescription

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _media_clip import read_frames, vp8_descriptor, vp8_payloads

from signaling.sfu.aiortc_hook.receiving import intercept_rtp
from signaling.sfu.aiortc_hook.sending import SendLink, send_link
from signaling.sfu.aiortc_hook.transceivers import (
    IdleTrack,
    dtls_transport,
    intercept_sender_rtcp,
    negotiated_payload_type,
)
from signaling.sfu.media import payload_offset, vp8_picture_id

HDR = struct.Struct("!BBHII")
U32 = struct.Struct("!I")


class LeanPeer:
    def __init__(self, peer_id: str, room: str, args: argparse.Namespace, clip: Any) -> None:
        self.id = peer_id
        self.room = room
        self.args = args
        self.frames, self.keyframes, self.opus = clip
        self.pc = RTCPeerConnection(local_configuration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.publish = args.publish
        if self.publish:
            self.pc.addTrack(IdleTrack("audio", f"{peer_id}-a"))
            self.pc.addTrack(IdleTrack("video", f"{peer_id}-v"))
        self.video_pub: dict[int, str] = {}  # server SSRC -> publisher
        self.recv: dict[str, dict[int, list[float]]] = {}  # pub -> pic -> [packets, t_last]
        self.markers: dict[str, int] = {}
        self.audio_packets = 0
        self.video_packets_in = 0
        self.video_packets_out = 0
        self.sent: dict[int, tuple[float, int]] = {}  # frame number -> (t_last, packets)
        self.want_key = False
        self.link: SendLink | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.answered = asyncio.Event()
        self.frames_sent = 0

    async def start(self, session: aiohttp.ClientSession) -> None:
        url = f"{self.args.url}/ws/{self.id}?room={self.room}"
        self.ws = await session.ws_connect(url, heartbeat=None)
        self.tasks.append(asyncio.create_task(self._signaling()))
        await asyncio.wait_for(self.answered.wait(), 30)
        deadline = time.monotonic() + 30
        while self.link is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.id}: no connection")
            await asyncio.sleep(0.05)
            self.link = send_link(dtls_transport(self.pc))
        if self.publish:
            self.tasks.append(asyncio.create_task(self._send_video()))
            self.tasks.append(asyncio.create_task(self._send_audio()))
        for task in self.tasks:
            task.add_done_callback(_report)

    async def _signaling(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            offer = json.loads(msg.data)
            offer["sdp"] = self.munge_offer(offer["sdp"])
            await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
            desc = SessionDescription.parse(offer["sdp"])
            for media in desc.media:
                info = offer["tracks"].get(media.rtp.muxId)
                if info and media.kind == "video" and media.ssrc:
                    self.video_pub[media.ssrc[0].ssrc] = info["peer"]
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            answer = self.munge_answer(self.pc.localDescription.sdp)
            await self.ws.send_str(json.dumps({"type": "answer", "sdp": answer}))
            if not self.answered.is_set():
                intercept_rtp(dtls_transport(self.pc), self._on_rtp)
                if self.publish:
                    camera = self.pc.getTransceivers()[1].sender
                    intercept_sender_rtcp(camera, self._on_rtcp)
                self.answered.set()

    def munge_offer(self, sdp: str) -> str:
        """The server's offer as this peer takes it (a subclass may rewrite it)."""
        return sdp

    def munge_answer(self, sdp: str) -> str:
        """The answer as sent to the server (a subclass may rewrite it)."""
        return sdp

    def result(self) -> dict[str, Any]:
        """What this peer reports in ``RESULT``."""
        return {"sent": self.sent, "recv": self.recv}

    def _on_rtcp(self, packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            self.want_key = True

    def _on_rtp(self, data: bytes) -> bool:
        pub = self.video_pub.get(U32.unpack_from(data, 8)[0])
        if pub is None:
            self.audio_packets += 1
            return True
        now = time.monotonic()
        self.video_packets_in += 1
        if data[1] & 0x80:
            self.markers[pub] = self.markers.get(pub, 0) + 1
        if self.args.mode == "passthrough":
            pic = vp8_picture_id(data, payload_offset(data))
            per_pub = self.recv.setdefault(pub, {})
            rec = per_pub.get(pic)  # type: ignore[arg-type]
            if rec is None:
                per_pub[pic] = [1, now]  # type: ignore[index]
            else:
                rec[0] += 1
                rec[1] = now
        return True

    async def _send_video(self) -> None:
        t = self.pc.getTransceivers()[1]
        ssrc, pt = t.sender._ssrc, negotiated_payload_type(t)
        seq, ts = random.randrange(0x8000), random.getrandbits(32)
        step = 90000 // self.args.fps
        period = 1 / self.args.fps
        index, number = random.randrange(len(self.frames)), 0
        index = self.keyframes[0]
        due = time.monotonic()
        while True:
            link = self.link
            if self.want_key:
                self.want_key = False
                index = self.keyframes[0]
            payloads = self.frames[index]
            index = (index + 1) % len(self.frames)
            last = len(payloads) - 1
            for k, chunk in enumerate(payloads):
                header = HDR.pack(0x80, (0x80 if k == last else 0) | pt, seq, ts, ssrc)
                link.send_rtp(header + vp8_descriptor(k == 0, number) + chunk)  # type: ignore[union-attr]
                seq = (seq + 1) & 0xFFFF
            self.video_packets_out += last + 1
            self.sent[number] = (time.monotonic(), len(payloads))
            number += 1
            self.frames_sent = number
            ts = (ts + step) & 0xFFFFFFFF
            due += period
            delay = due - time.monotonic()
            if delay < -2 * period:  # behind: skip frames as a camera would, no burst
                due = time.monotonic()
            await asyncio.sleep(max(delay, 0))

    async def _send_audio(self) -> None:
        t = self.pc.getTransceivers()[0]
        ssrc, pt = t.sender._ssrc, negotiated_payload_type(t)
        seq, ts, index = random.randrange(0x8000), random.getrandbits(32), 0
        due = time.monotonic()
        while True:
            payload = self.opus[index]
            index = (index + 1) % len(self.opus)
            self.link.send_rtp(HDR.pack(0x80, pt, seq, ts, ssrc) + payload)  # type: ignore[union-attr]
            seq, ts = (seq + 1) & 0xFFFF, (ts + 960) & 0xFFFFFFFF
            due += 0.02
            delay = due - time.monotonic()
            if delay < -0.1:
                due = time.monotonic()
            await asyncio.sleep(max(delay, 0))

    async def subscribe(self, session: aiohttp.ClientSession) -> None:
        """Nothing to do: courtlink's server subscribes each peer to the room itself."""

    def ready(self, expect: int) -> bool:
        return sum(1 for n in self.markers.values() if n > 0) >= expect

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.ws is not None:
            await self.ws.close()
        await self.pc.close()


def _report(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        print(f"task failed: {task.exception()!r}", file=sys.stderr, flush=True)


def load_clip(args: argparse.Namespace) -> Any:
    frames = read_frames(Path(args.video))
    payloads = [vp8_payloads(data) for data, _ in frames]
    keyframes = [i for i, (_, key) in enumerate(frames) if key]
    opus = [data for data, _ in read_frames(Path(args.audio))]
    return payloads, keyframes, opus


async def wait_stdin() -> str:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, sys.stdin.readline)


async def main(
    peer_class: type[LeanPeer] = LeanPeer,
    more_args: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--peers", default="")
    p.add_argument("--video", required=True)
    p.add_argument("--audio", required=True)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--mode", default="passthrough")
    p.add_argument("--expect", type=int, default=0)
    p.add_argument("--publish", action="store_true")
    p.add_argument("--churn", type=int, default=0)
    p.add_argument("--churn-room", default="")
    if more_args is not None:
        more_args(p)
    args = p.parse_args()
    clip = load_clip(args)
    specs = [spec.split("@") for spec in args.peers.split(",") if spec]
    peers = [peer_class(peer_id, room, args, clip) for peer_id, room in specs]
    async with aiohttp.ClientSession() as session:
        for peer in peers:
            await peer.start(session)
        for peer in peers:
            await peer.subscribe(session)
        while not all(peer.ready(args.expect) for peer in peers):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        print("READY", flush=True)
        for i in range(args.churn):
            churner = peer_class(f"churn{i}", args.churn_room, args, clip)
            await churner.start(session)
            deadline = time.monotonic() + 10
            while not churner.ready(args.expect) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            await churner.stop()
            print(f"CYCLE {i + 1}", flush=True)
        marks: dict[str, Any] = {}
        while True:
            line = (await wait_stdin()).strip()
            snap = {
                "t": time.monotonic(),
                "markers": {p.id: dict(p.markers) for p in peers},
                "frames_sent": {p.id: p.frames_sent for p in peers},
                "audio_packets": {p.id: p.audio_packets for p in peers},
                "video_packets_in": {p.id: p.video_packets_in for p in peers},
                "video_packets_out": {p.id: p.video_packets_out for p in peers},
            }
            marks[line or "STOP"] = snap
            if line != "MARK":
                break
        result = {
            "marks": marks,
            "peers": {peer.id: peer.result() for peer in peers},
        }
        print("RESULT " + json.dumps(result), flush=True)
        for peer in peers:
            await peer.stop()


if __name__ == "__main__":
    asyncio.run(main())
