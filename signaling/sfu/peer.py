"""One participant's server-side peer connection: its publishing m-lines, its sending slots.

Every peer connection starts with three recvonly m-lines the browser publishes on (audio,
camera, screen), then gains one sendonly m-line ("slot") per track it receives. A slot whose
track goes away becomes inactive and is reused for the next track of the same kind, so a
long session with many joins and leaves does not grow the SDP. The server makes every offer;
``negotiating``/``dirty`` serialise them (one outstanding offer per peer, the next queued).
"""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
)
from aiortc.sdp import SessionDescription

from signaling.sfu import feedback
from signaling.sfu.aiortc_hook import consent, receiving, transceivers
from signaling.sfu.allocation import allocate
from signaling.sfu.downlink import Downlink
from signaling.sfu.inbound import InboundTrack
from signaling.sfu.outlet import LinkHolder, Outlet
from signaling.sfu.simulcast import SimulcastTrack, answered_simulcast

PUBLISH_LABELS = ("audio", "camera", "screen")
_KIND = {"audio": "audio", "camera": "video", "screen": "video"}
_U32 = struct.Struct("!I")


def ice_configuration(ice_servers: list[dict[str, Any]]) -> RTCConfiguration:
    """RTCConfiguration from settings.ice_servers (browser-style dicts: urls, username,
    credential). An empty list means host candidates only: no public STUN server."""
    servers = [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in ice_servers
    ]
    # max-bundle: every m-line shares one transport from the start (aiortc's default
    # "balanced" policy leaves a second same-kind m-line on a transport that never starts).
    return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


def prefer_codec(transceiver: RTCRtpTransceiver, kind: str) -> None:
    """Offer VP8 only for video and Opus for audio. No RTX: the SFU answers subscribers'
    NACKs itself, and a publisher (Chromium, aiortc) resends what the SFU's NACKs ask for on
    the media SSRC with the original sequence number (nack.py)."""
    wanted = "video/vp8" if kind == "video" else "audio/opus"
    caps = RTCRtpSender.getCapabilities(kind).codecs
    transceiver.setCodecPreferences([c for c in caps if c.mimeType.lower() == wanted])


def cap_video_bitrate(sdp: str, kbps: int) -> str:
    """Add b=AS/b=TIAS to the video m-lines the browser publishes on (recvonly here): the
    browser then never sends a camera or screen stream above ``kbps``."""
    sections = re.split(r"(?=^m=)", sdp, flags=re.M)
    out = []
    for section in sections:
        if section.startswith("m=video") and "a=recvonly" in section:
            section = re.sub(
                r"^(c=.*\r?\n)",
                lambda m: f"{m.group(1)}b=AS:{kbps}\r\nb=TIAS:{kbps * 1000}\r\n",
                section,
                count=1,
                flags=re.M,
            )
        out.append(section)
    return "".join(out)


class Slot:
    """A sendonly transceiver carrying one remote track to this peer."""

    def __init__(self, transceiver: RTCRtpTransceiver, kind: str) -> None:
        self.transceiver = transceiver
        self.kind = kind
        self.track: InboundTrack | SimulcastTrack | None = None  # carried, or offered to be
        self.outlet: Outlet | None = None  # set once the answer for it arrived
        self.next_seq: int | None = None
        self.last_ts_out: int | None = None
        self.dead = False  # transcode mode: a slot whose relay track stopped is not reused

    @property
    def sender(self) -> RTCRtpSender:
        sender: RTCRtpSender = self.transceiver.sender
        return sender


class Peer:
    """Server side of one participant."""

    def __init__(
        self,
        peer_id: str,
        *,
        ice_servers: list[dict[str, Any]],
        on_offer: Callable[[dict[str, Any]], Awaitable[None]],
        on_state: Callable[[str], Awaitable[None]] | None,
        passthrough: bool,
        on_paused: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.id = peer_id
        self.on_offer = on_offer
        self.on_state = on_state
        self.passthrough = passthrough
        self.pc = RTCPeerConnection(ice_configuration(ice_servers))
        self.room: str | None = None
        self.holder = LinkHolder()
        self.negotiating = False
        self.dirty = False
        self.answered = False
        self.closed = False
        self.publish: dict[str, RTCRtpTransceiver] = {}
        for label in PUBLISH_LABELS:
            t = self.pc.addTransceiver(_KIND[label], direction="recvonly")
            prefer_codec(t, _KIND[label])
            if self.passthrough:  # packets are taken below the receiver: it estimates nothing
                transceivers.drop_bitrate_estimator(t.receiver)
            self.publish[label] = t
        # A late answer to a consent check is a queued line, not a party gone (consent.py).
        consent.patient_consent(self.publish.values())
        self.inbound: dict[str, InboundTrack | SimulcastTrack] = {}
        self.by_ssrc: dict[int, InboundTrack] = {}  # a simulcast camera's layers each by theirs
        self.downlink = Downlink(on_paused)
        self.slots: list[Slot] = []
        self._reports = feedback.ReceiverReports()

    # --- publishing side ---------------------------------------------------------------

    def learn_publish_ssrcs(
        self,
        sdp: str,
        make_track: Callable[[str, str, int], InboundTrack],
        make_simulcast: Callable[[str, int], SimulcastTrack] | None = None,
    ) -> list[str]:
        """From the browser's answer: which publish m-lines send, on which SSRC (a simulcast
        camera names none: its layers are learnt from their first packets). Returns the
        labels declared as sending."""
        desc = SessionDescription.parse(sdp)
        declared = []
        rid_ext = answered_simulcast(sdp) if make_simulcast is not None else None
        for index, label in enumerate(PUBLISH_LABELS):
            media = desc.media[index]
            if media.direction not in ("sendonly", "sendrecv"):
                continue
            if label == "camera" and rid_ext is not None and make_simulcast is not None:
                declared.append(label)
                if not isinstance(self.inbound.get(label), SimulcastTrack):
                    self._forget(label)
                    self.inbound[label] = make_simulcast(label, rid_ext)
                continue
            if not media.ssrc:
                continue
            declared.append(label)
            ssrc = media.ssrc[0].ssrc
            old = self.inbound.get(label)
            if isinstance(old, InboundTrack) and old.ssrc == ssrc:
                continue
            self._forget(label)
            track = make_track(label, _KIND[label], ssrc)
            self.inbound[label] = track
            self.by_ssrc[ssrc] = track
        return declared

    def _forget(self, label: str) -> None:
        old = self.inbound.pop(label, None)
        if old is None:
            return
        layers = old.layers if isinstance(old, SimulcastTrack) else [old]
        for layer in layers:
            if layer is not None:
                self.by_ssrc.pop(layer.ssrc, None)
        old.close()

    def install_forwarding(self) -> None:
        """Take publisher packets below aiortc's receivers (passthrough mode only)."""
        by_ssrc = self.by_ssrc
        unpack = _U32.unpack_from

        inbound = self.inbound

        def handler(data: bytes) -> bool:
            track = by_ssrc.get(unpack(data, 8)[0])
            if track is None:
                camera = inbound.get("camera")
                if not isinstance(camera, SimulcastTrack):
                    return False
                track = camera.learn(unpack(data, 8)[0], data)  # once per new SSRC
                if track is None:
                    return False
                by_ssrc[track.ssrc] = track
            try:
                track.on_rtp(data)
            except (IndexError, struct.error):
                # a truncated header or VP8 descriptor from a buggy or hostile publisher
                track.malformed += 1
            return True

        receiving.intercept_rtp(transceivers.dtls_transport(self.pc), handler)
        for t in self.publish.values():
            transceivers.intercept_receiver(t.receiver)

    @property
    def rtcp_ssrc(self) -> int:
        """The SSRC the SFU's feedback to this publisher (PLI, NACK, RR, REMB) comes from."""
        return transceivers.sender_ssrc(self.publish["camera"].sender)

    def send_pli(self, media_ssrc: int) -> None:
        self._send_rtcp(lambda: feedback.pli(self.rtcp_ssrc, media_ssrc))

    def send_nack(self, media_ssrc: int, lost: list[int]) -> None:
        """Ask the publisher to resend these packets of its track (a generic NACK)."""
        if lost:
            self._send_rtcp(lambda: feedback.nack(self.rtcp_ssrc, media_ssrc, lost))

    def send_receiver_report(self, max_video_kbps: int) -> None:
        """RR for every inbound track, plus REMB capping the publisher's video."""
        if self.by_ssrc:
            self._send_rtcp(
                lambda: self._reports.build(
                    self.rtcp_ssrc, self.by_ssrc.values(), self.publish, max_video_kbps
                )
            )

    def _send_rtcp(self, build: Callable[[], bytes]) -> None:
        """Built only when connected: there is nothing to say before."""
        link = self.holder.link
        if link is not None:
            link.send_rtcp(build())

    # --- receiving side (slots) -------------------------------------------------------------

    def new_slot(self, kind: str) -> Slot:
        transceiver = self.pc.addTransceiver(kind, direction="sendonly")
        prefer_codec(transceiver, kind)
        # a send-only slot receives nothing
        transceivers.drop_bitrate_estimator(transceiver.receiver)
        consent.patient_consent([transceiver])  # a transport of its own until BUNDLE
        slot = Slot(transceiver, kind)
        if self.passthrough:
            transceiver.sender.replaceTrack(transceivers.IdleTrack(kind, f"idle-{id(slot)}"))

            def on_rtcp(packet: Any, slot: Slot = slot) -> None:
                if slot.outlet is not None:
                    feedback.from_subscriber(self.downlink, slot.outlet, slot.sender, packet)

            transceivers.intercept_sender_rtcp(transceiver.sender, on_rtcp)
            transceivers.remember_sender_reports(transceiver.sender)
        self.slots.append(slot)
        return slot

    def track_map(self) -> dict[str, dict[str, str]]:
        """mid -> {"peer", "label"} for every slot that carries a track: how the browser
        tells whose video a remote track is (also in a=msid: stream id = publisher's peer id
        for audio and camera, ``<peer id>#screen`` for the screen)."""
        return {
            str(s.transceiver.mid): {"peer": s.track.peer_id, "label": s.track.label}
            for s in self.slots
            if s.track is not None and s.transceiver.mid is not None
        }

    def balance(self, now: float) -> None:
        """Once a second: the downlink's estimate from the reports since, then the layers."""
        outlets = [s.outlet for s in self.slots if s.outlet is not None]
        self.downlink.update(now, sum(feedback.on_the_link(o) for o in outlets))
        self.rebalance()

    def rebalance(self) -> None:
        """Choose again what video this peer gets (its view or mode changed, or a track)."""
        outlets = [s.outlet for s in self.slots if s.outlet is not None]
        allocate(
            self.downlink,
            [o for o in outlets if not o.track.is_video],
            [o for o in outlets if o.track.is_video],
        )

    def update_sender_reports(self) -> None:
        wall_offset = time.time() - time.monotonic()
        for slot in self.slots:
            o = slot.outlet
            if o is not None and o.packets_out and o.last_ts_out is not None:
                transceivers.update_sender_report(
                    slot.sender,
                    packets=o.packets_out,
                    octets=o.bytes_out,
                    rtp_timestamp=o.last_ts_out,
                    sent_at=o.last_sent_at + wall_offset,
                )
