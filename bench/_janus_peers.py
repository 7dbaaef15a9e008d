"""The lean load peers of bench/_media_peers.py, signaling with Janus's VideoRoom instead.

The same peers, clip and packets: a publisher replays the pre-encoded VP8 clip and Opus
through the SRTP session of its publishing peer connection, a subscriber counts packets below
aiortc's jitter buffer and times frames by the VP8 picture id. Janus wants one peer
connection to publish (the peer offers, Janus answers) and one to receive every other
publisher's streams (Janus offers, the peer answers); courtlink's SFU carries both on one.

Each peer: a Janus session (one WebSocket), a publisher handle (``join`` as publisher,
``publish`` with the offer), then, once every publisher of its room is up (``listparticipants``),
a subscriber handle that joins with every other publisher's feed in ``streams`` and answers
Janus's offer with ``start``. Same command line and stdin/stdout protocol as _media_peers.py;
``--url`` is Janus's WebSocket.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import aiohttp
from _ice import local_configuration
from aiortc import RTCBundlePolicy, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import SessionDescription

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _media_peers
from _janus import JanusApi, room_number
from _media_peers import LeanPeer, _report

from signaling.sfu.aiortc_hook.receiving import intercept_rtp
from signaling.sfu.aiortc_hook.sending import send_link
from signaling.sfu.aiortc_hook.transceivers import dtls_transport, intercept_sender_rtcp


class JanusPeer(LeanPeer):
    api: JanusApi | None = None
    sub_pc: RTCPeerConnection | None = None
    feed = 0

    async def start(self, session: aiohttp.ClientSession) -> None:
        self.api = api = await JanusApi.open(session, self.args.url)
        self.handle = await api.attach()
        body = {"request": "join", "ptype": "publisher", "room": room_number(self.room)}
        joined, _ = await api.message(self.handle, {**body, "display": self.id})
        self.feed = joined["id"]
        for transceiver in self.pc.getTransceivers():
            transceiver.direction = "sendonly"
        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = {"type": "offer", "sdp": self.pc.localDescription.sdp}
        body = {"request": "publish", "audio": True, "video": True}
        _, answer = await api.message(self.handle, body, offer)
        assert answer is not None, "Janus answered the publish without SDP"
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        intercept_sender_rtcp(self.pc.getTransceivers()[1].sender, self._on_rtcp)
        deadline = time.monotonic() + 30
        while (link := send_link(dtls_transport(self.pc))) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.id}: no connection to Janus")
            await asyncio.sleep(0.05)
        self.link = link
        self.tasks.append(asyncio.create_task(self._send_video()))
        self.tasks.append(asyncio.create_task(self._send_audio()))
        for task in self.tasks:
            task.add_done_callback(_report)

    async def subscribe(self, session: aiohttp.ClientSession) -> None:
        """Every other publisher of the room, as courtlink's SFU forwards them to each peer."""
        assert self.api is not None
        room = room_number(self.room)
        deadline = time.monotonic() + 60
        while True:
            data, _ = await self.api.message(
                self.handle, {"request": "listparticipants", "room": room}
            )
            feeds = [p["id"] for p in data["participants"] if p.get("publisher")]
            if len(feeds) > self.args.expect:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.id}: {len(feeds)} publishers after 60 s")
            await asyncio.sleep(0.2)
        handle = await self.api.attach()
        streams = [{"feed": feed} for feed in feeds if feed != self.feed]
        body = {"request": "join", "ptype": "subscriber", "room": room, "streams": streams}
        attached, offer = await self.api.message(handle, body)
        assert offer is not None, "Janus attached the subscriber without SDP"
        publisher_of = {
            s["mid"]: s["feed_display"] for s in attached["streams"] if s.get("type") == "video"
        }
        self.sub_pc = pc = RTCPeerConnection(
            local_configuration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        for media in SessionDescription.parse(offer["sdp"]).media:
            pub = publisher_of.get(media.rtp.muxId)
            if pub and media.ssrc:
                self.video_pub[media.ssrc[0].ssrc] = pub
        intercept_rtp(dtls_transport(pc), self._on_rtp)
        await pc.setLocalDescription(await pc.createAnswer())
        answer = {"type": "answer", "sdp": pc.localDescription.sdp}
        await self.api.message(handle, {"request": "start"}, answer)

    async def stop(self) -> None:
        await super().stop()
        if self.sub_pc is not None:
            await self.sub_pc.close()
        if self.api is not None:
            await self.api.close()


if __name__ == "__main__":
    asyncio.run(_media_peers.main(JanusPeer))
