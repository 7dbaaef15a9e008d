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
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
)
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    pack_remb_fci,
)
from aiortc.sdp import SessionDescription

from signaling.sfu.aiortc_hook import receiving, transceivers
from signaling.sfu.inbound import InboundTrack
from signaling.sfu.outlet import LinkHolder, Outlet

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
        self.track: InboundTrack | None = None  # what the slot carries or is offered to carry
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
        self.inbound: dict[str, InboundTrack] = {}
        self.by_ssrc: dict[int, InboundTrack] = {}
        self.slots: list[Slot] = []
        self._rr_prior: dict[int, tuple[int, int]] = {}

    # --- publishing side ---------------------------------------------------------------

    def learn_publish_ssrcs(
        self, sdp: str, make_track: Callable[[str, str, int], InboundTrack]
    ) -> list[str]:
        """From the browser's answer: which publish m-lines send, on which SSRC. Returns the
        labels declared as sending."""
        desc = SessionDescription.parse(sdp)
        declared = []
        for index, label in enumerate(PUBLISH_LABELS):
            media = desc.media[index]
            if media.direction not in ("sendonly", "sendrecv") or not media.ssrc:
                continue
            declared.append(label)
            ssrc = media.ssrc[0].ssrc
            old = self.inbound.get(label)
            if old is not None and old.ssrc == ssrc:
                continue
            if old is not None:
                self.by_ssrc.pop(old.ssrc, None)
                old.close()
            track = make_track(label, _KIND[label], ssrc)
            self.inbound[label] = track
            self.by_ssrc[ssrc] = track
        return declared

    def install_forwarding(self) -> None:
        """Take publisher packets below aiortc's receivers (passthrough mode only)."""
        by_ssrc = self.by_ssrc
        unpack = _U32.unpack_from

        def handler(data: bytes) -> bool:
            track = by_ssrc.get(unpack(data, 8)[0])
            if track is None:
                return False
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
        link = self.holder.link
        if link is not None:
            rtcp_ssrc = self.rtcp_ssrc
            pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=rtcp_ssrc, media_ssrc=media_ssrc)
            link.send_rtcp(bytes(pli))

    def send_nack(self, media_ssrc: int, lost: list[int]) -> None:
        """Ask the publisher to resend these packets of its track (a generic NACK)."""
        link = self.holder.link
        if link is None or not lost:
            return
        rtcp_ssrc = self.rtcp_ssrc
        # aiortc packs ascending numbers only: one packet per run, split where they wrap
        runs: list[list[int]] = []
        for seq in lost:
            if runs and seq > runs[-1][-1]:
                runs[-1].append(seq)
            else:
                runs.append([seq])
        link.send_rtcp(
            b"".join(
                bytes(RtcpRtpfbPacket(RTCP_RTPFB_NACK, rtcp_ssrc, media_ssrc, lost=run))
                for run in runs
            )
        )

    def send_receiver_report(self, max_video_kbps: int) -> None:
        """RR for every inbound track, plus REMB capping the publisher's video. The loss it
        reports counts packets recovered by NACK as lost (see below)."""
        link = self.holder.link
        if link is None or not self.by_ssrc:
            return
        rtcp_ssrc = self.rtcp_ssrc
        reports = []
        for track in self.by_ssrc.values():
            if track.base_seq is None:
                continue
            # Loss as the network caused it, before NACK repair: with a fixed REMB this is
            # the publisher's only congestion signal, and what its quality badge shows.
            repaired = track.nack.recovered if track.nack is not None else 0
            expected, received = track.expected, track.packets_in - repaired
            prior_e, prior_r = self._rr_prior.get(track.ssrc, (0, 0))
            self._rr_prior[track.ssrc] = (expected, received)
            interval_e, interval_lost = (
                expected - prior_e,
                (expected - prior_e) - (received - prior_r),
            )
            fraction = (
                (interval_lost << 8) // interval_e if interval_e > 0 and interval_lost > 0 else 0
            )
            receiver: RTCRtpReceiver = self.publish[track.label].receiver
            lsr, dlsr = transceivers.last_sender_report(receiver, track.ssrc)
            reports.append(
                RtcpReceiverInfo(
                    ssrc=track.ssrc,
                    fraction_lost=min(fraction, 255),
                    packets_lost=max(0, min(expected - received, 0x7FFFFF)),
                    highest_sequence=track.extended_max_seq & 0xFFFFFFFF,
                    jitter=0,
                    lsr=lsr,
                    dlsr=dlsr,
                )
            )
        payload = bytes(RtcpRrPacket(ssrc=rtcp_ssrc, reports=reports))
        video = [t.ssrc for t in self.by_ssrc.values() if t.is_video]
        if video:
            fci = pack_remb_fci(max_video_kbps * 1000 * len(video), video)
            payload += bytes(
                RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=fci)
            )
        link.send_rtcp(payload)

    # --- receiving side (slots) -------------------------------------------------------------

    def new_slot(self, kind: str) -> Slot:
        transceiver = self.pc.addTransceiver(kind, direction="sendonly")
        prefer_codec(transceiver, kind)
        # a send-only slot receives nothing
        transceivers.drop_bitrate_estimator(transceiver.receiver)
        slot = Slot(transceiver, kind)
        if self.passthrough:
            transceiver.sender.replaceTrack(transceivers.IdleTrack(kind, f"idle-{id(slot)}"))

            def on_rtcp(packet: Any, slot: Slot = slot) -> None:
                outlet = slot.outlet
                if outlet is None:
                    return
                if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (
                    RTCP_PSFB_PLI,
                    RTCP_PSFB_FIR,
                ):
                    outlet.track.request_keyframe()
                elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
                    outlet.nack(list(packet.lost))

            transceivers.intercept_sender_rtcp(transceiver.sender, on_rtcp)
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
