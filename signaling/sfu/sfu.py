"""The SFU: who receives whose media, negotiation, keyframe requests, taps, stats.

Signaling (rooms, lobby, the WebSocket) drives it through ``add_peer``, ``handle_answer``,
``set_room`` and ``remove_peer``; the server makes every offer and the browser answers. Media
never passes through Python objects other than the raw packet bytes (see inbound.py and outlet.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiortc import RTCSessionDescription

from server.tasks import Background
from signaling.sfu import baseline, slots, ticker
from signaling.sfu.aiortc_hook import internals_checked
from signaling.sfu.aiortc_hook.sending import send_link
from signaling.sfu.aiortc_hook.transceivers import dtls_transport
from signaling.sfu.allocation import MODES
from signaling.sfu.media import MediaTap
from signaling.sfu.opus import offer_fec
from signaling.sfu.outlet import DEFAULT_MAX_QUEUE_BYTES
from signaling.sfu.peer import Peer, cap_video_bitrate
from signaling.sfu.publishing import simulcast_maker, track_maker
from signaling.sfu.simulcast import Published, offer_simulcast
from signaling.sfu.stats import peer_stats
from signaling.sfu.taps import Taps, end_taps
from signaling.sfu.trim import Trimmer

log = logging.getLogger(__name__)


class SfuError(Exception):
    """A call that does not fit the peer's state (unknown peer, answer without an offer)."""


class Sfu:
    """Selective forwarding unit on aiortc.

    ``mode="passthrough"`` (the product) forwards RTP packets with no decode and no encode.
    ``mode="transcode"`` is aiortc's stock relay (decode once, encode once per subscriber),
    kept only as the benchmark's baseline. ``ice_servers`` are browser-style dicts
    (``{"urls": ..., "username": ..., "credential": ...}``); ``max_video_kbps`` caps every
    published video stream (b=AS/TIAS in the offer and REMB); ``max_queue_bytes`` bounds each
    subscriber's send buffer. ``simulcast`` asks every browser for its camera in three
    layers, and gives each subscriber the one its link and tile take (simulcast.py,
    downlink.py); off, every subscriber gets the one stream each camera sends.
    """

    def __init__(
        self,
        *,
        ice_servers: list[dict[str, Any]],
        max_video_kbps: int = 1500,
        mode: str = "passthrough",
        max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
        simulcast: bool = True,
    ) -> None:
        if mode not in ("passthrough", "transcode"):
            raise ValueError(f"unknown SFU mode {mode!r}")
        self.passthrough = mode == "passthrough"
        if self.passthrough:
            internals_checked()
        self.mode = mode
        self.simulcast = simulcast and self.passthrough
        self.ice_servers = ice_servers
        self.max_video_kbps = max_video_kbps
        self.max_queue_bytes = max_queue_bytes
        self._peers: dict[str, Peer] = {}
        self._taps = Taps(self._peers)
        self._work = Background("the SFU's renegotiations and connection-state callbacks")
        self._tick_task: asyncio.Task[None] | None = None
        self._relay = None if self.passthrough else baseline.Relay()
        self._closing = False
        self.trimmer = Trimmer()  # gives a departed peer's memory back to the OS

    # --- public API ---------------------------------------------------------------------

    async def add_peer(
        self,
        peer_id: str,
        *,
        on_offer: Callable[[dict[str, Any]], Awaitable[None]],
        on_state: Callable[[str], Awaitable[None]] | None = None,
        on_paused: Callable[[list[str]], None] | None = None,
    ) -> None:
        """Create the participant's peer connection and send its first offer through
        ``on_offer({"type": "offer", "sdp": ..., "tracks": {mid: {"peer", "label"}}})``:
        recvonly audio, camera video and screen video m-lines (the browser publishes on them:
        answer sendonly, the screen m-line too, with a null track until sharing starts).
        Every later offer comes the same way; ``on_state`` gets connection states;
        ``on_paused`` the peer ids whose camera this peer's link cannot carry now (or that
        its audio-only mode stops), each time that list changes."""
        if peer_id in self._peers:
            raise SfuError(f"peer {peer_id!r} exists")
        peer = Peer(
            peer_id,
            ice_servers=self.ice_servers,
            on_offer=on_offer,
            on_state=on_state,
            passthrough=self.passthrough,
            on_paused=on_paused,
        )
        self._peers[peer_id] = peer
        peer.pc.on("connectionstatechange", lambda: self._on_connection_state(peer))
        if self._tick_task is None:
            self._tick_task = asyncio.create_task(
                ticker.run(
                    self._peers,
                    max_video_kbps=self.max_video_kbps,
                    screen_stopped=self._screen_stopped,
                )
            )
        await self._negotiate(peer)

    async def handle_answer(self, peer_id: str, sdp: str) -> None:
        """Apply the browser's answer to the last offer; then start what it accepted and send
        the next queued offer, if any."""
        peer = self._peer(peer_id)
        if not peer.negotiating or peer.pc.signalingState != "have-local-offer":
            raise SfuError(f"peer {peer_id!r} has no offer outstanding")
        await peer.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        if not peer.answered:
            peer.answered = True
            if self.passthrough:
                peer.install_forwarding()
        simulcast = simulcast_maker(
            peer, on_live=self._on_live, on_better_layer=self._taps.better_layer
        )
        declared = peer.learn_publish_ssrcs(
            sdp,
            track_maker(peer, nack=self.passthrough, on_live=self._on_live),
            simulcast if self.simulcast else None,
        )
        if not self.passthrough:
            for label in declared:
                if label != "screen" and not peer.inbound[label].live:
                    peer.inbound[label].live = True
                    self._on_live(peer.inbound[label])
        for slot in peer.slots:
            if slot.track is not None and slot.outlet is None and self.passthrough:
                slots.open_outlet(peer, slot, max_queue_bytes=self.max_queue_bytes)
        peer.negotiating = False
        if peer.dirty and not peer.closed:
            peer.dirty = False
            self._work.spawn(self._negotiate(peer))

    async def set_room(self, peer_id: str, room: str | None) -> None:
        """Put the peer in ``room`` (None: the lobby, no media either way). Media with the old
        room stops at once; the peers concerned get new offers; new subscribers start at a
        keyframe requested from each publisher."""
        peer = self._peer(peer_id)
        old = peer.room
        if old == room:
            return
        self._taps.left(peer, "moved")
        peer.room = room
        self._taps.entered(peer)
        affected = [p for p in self._peers.values() if p.room in (old, room) and p.room]
        if peer not in affected:
            affected.append(peer)
        for p in affected:
            slots.prune(self._peers, p, passthrough=self.passthrough)
        for p in affected:
            await self._negotiate(p)

    async def remove_peer(self, peer_id: str) -> None:
        """Close the participant's connection; the others in its room are renegotiated."""
        peer = self._peers.pop(peer_id, None)
        if peer is None:
            return
        peer.closed = True
        self._taps.left(peer, "left")
        for track in peer.inbound.values():
            track.close()
        for slot in peer.slots:
            slots.detach(slot, passthrough=self.passthrough)
        others = [p for p in self._peers.values() if peer.room and p.room == peer.room]
        for p in others:
            slots.prune(self._peers, p, passthrough=self.passthrough)
        peer.holder.link = None
        await peer.pc.close()
        if not self._closing:
            self.trimmer.soon()
        for p in others:
            await self._negotiate(p)

    async def renegotiate(self, peer_id: str) -> None:
        """Send the peer a fresh offer (queued behind an outstanding one), e.g. when the
        browser added a track on an m-line it had answered inactive."""
        await self._negotiate(self._peer(peer_id))

    def set_screen(self, peer_id: str, sharing: bool) -> None:
        """The participant says it shares its screen, or stopped. Stopping takes effect at
        once (everyone else's next offer drops the screen; the browser may go on sending for a
        while); sharing again lets the next packets restart it. The idle timer stays, for a
        share that ends without a word."""
        peer = self._peers.get(peer_id)
        track = peer.inbound.get("screen") if peer else None
        if peer is None or track is None:
            return
        track.held = not sharing
        if not sharing and track.live:
            self._screen_stopped(peer, track)

    def set_view(self, peer_id: str, heights: dict[str, int], mode: str) -> None:
        """What the participant shows: each publisher's tile height in device pixels (by
        peer id; a small tile never needs the top layer) and its mode: ``full``, ``low``
        (the lowest layer of every camera) or ``audio`` (no camera at all). Takes effect now."""
        if mode not in MODES:
            raise SfuError(f"unknown receive mode {mode!r}")
        peer = self._peer(peer_id)
        peer.downlink.heights = dict(heights)
        peer.downlink.mode = mode
        peer.rebalance()

    def add_tap(self, tap: MediaTap) -> None:
        """Tell ``tap`` about every track live in a room from now on, and send their packets
        where it says (see ``MediaTap``); tracks already live get ``on_track_start`` now."""
        self._taps.add(tap)

    def request_keyframes(self, peer_ids: Iterable[str]) -> None:
        """Ask these peers' cameras and screens for a keyframe (rate-limited per track), e.g.
        when recording starts again: a recorder can only begin a video file at a keyframe,
        and browsers send them rarely on their own."""
        for peer_id in peer_ids:
            peer = self._peers.get(peer_id)
            if peer is not None:
                for track in peer.inbound.values():
                    if track.live:
                        track.request_keyframe()

    def remove_tap(self, tap: MediaTap) -> None:
        self._taps.remove(tap)

    def forwarded_streams(self) -> int:
        """Published tracks whose media is flowing: what a cluster node reports as its load."""
        return sum(
            1 for peer in self._peers.values() for track in peer.inbound.values() if track.live
        )

    def stats(self) -> dict[str, Any]:
        """Per peer: room, connection state, per published track packets/frames in, keyframes,
        keyframe requests, bitrate, NACKs to the publisher and what they recovered (video); per
        received track packets/frames out, drops (send queue full), packets held back until a
        keyframe, NACKs and retransmissions."""
        return {peer.id: peer_stats(peer) for peer in self._peers.values()}

    async def close(self) -> None:
        """Close every peer connection and stop the background task."""
        self._closing = True
        for peer_id in list(self._peers):
            await self.remove_peer(peer_id)
        self.trimmer.cancel()
        if self._tick_task is not None:
            self._tick_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick_task
            self._tick_task = None
        await self._work.cancel()

    def peer_connection(self, peer_id: str) -> Any:
        """The participant's aiortc RTCPeerConnection (tests and benchmarks inspect it)."""
        return self._peer(peer_id).pc

    # --- internals ----------------------------------------------------------------------

    def _peer(self, peer_id: str) -> Peer:
        try:
            return self._peers[peer_id]
        except KeyError:
            raise SfuError(f"unknown peer {peer_id!r}") from None

    async def _negotiate(self, peer: Peer) -> None:
        if peer.closed or self._closing or peer.pc.signalingState == "closed":
            return
        if peer.negotiating:
            peer.dirty = True
            return
        peer.negotiating = True
        try:
            slots.sync(self._peers, peer, passthrough=self.passthrough, relay=self._relay)
            await peer.pc.setLocalDescription(await peer.pc.createOffer())
            sdp = offer_fec(cap_video_bitrate(peer.pc.localDescription.sdp, self.max_video_kbps))
            if self.simulcast:
                sdp = offer_simulcast(sdp)
            offer = {"type": "offer", "sdp": sdp, "tracks": peer.track_map()}
        except Exception:
            peer.negotiating = False
            raise
        await peer.on_offer(offer)

    def _on_live(self, track: Published) -> None:
        peer = self._peers.get(track.peer_id)
        if peer is None or peer.room is None:
            return
        self._taps.live(peer, track)
        for p in self._peers.values():
            if p is not peer and p.room == peer.room:
                self._work.spawn(self._negotiate(p))

    def _on_connection_state(self, peer: Peer) -> None:
        state = peer.pc.connectionState
        if state == "connected" and peer.holder.link is None:
            peer.holder.link = send_link(dtls_transport(peer.pc))
            for slot in peer.slots:
                if slot.outlet is not None and slot.outlet.waiting:
                    slot.outlet.track.request_keyframe()
        elif state in ("failed", "closed"):
            peer.holder.link = None
        if peer.on_state is not None and not peer.closed:
            self._work.spawn(peer.on_state(state))

    def _screen_stopped(self, peer: Peer, track: Published) -> None:
        track.live = False
        end_taps(track, "stopped")
        for p in self._peers.values():
            if p is not peer and p.room == peer.room and p.room:
                slots.prune(self._peers, p, passthrough=self.passthrough)
                self._work.spawn(self._negotiate(p))
