"""The SFU's RTCP, both ways: what it tells a publisher of its uplink (PLI, NACK, receiver
reports with a REMB cap) and what it reads in a subscriber's reports on a slot (loss, what
arrived, the round trip, keyframe requests, NACKs), which feed that subscriber's downlink.

Built here as bytes and handed to the peer's link; the peer (peer.py) only says when.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    pack_remb_fci,
    unpack_remb_fci,
)

from signaling.sfu.aiortc_hook import transceivers
from signaling.sfu.downlink import RTP_OVERHEAD, Downlink
from signaling.sfu.inbound import InboundTrack
from signaling.sfu.opus import loss_to_report
from signaling.sfu.outlet import Outlet
from signaling.sfu.switching import SwitchingOutlet

# --- to a publisher ----------------------------------------------------------------------


def pli(rtcp_ssrc: int, media_ssrc: int) -> bytes:
    """Ask the publisher for a keyframe of ``media_ssrc``."""
    return bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=rtcp_ssrc, media_ssrc=media_ssrc))


def nack(rtcp_ssrc: int, media_ssrc: int, lost: list[int]) -> bytes:
    """Ask the publisher to resend these packets (generic NACKs)."""
    # aiortc packs ascending numbers only: one packet per run, split where they wrap
    runs: list[list[int]] = []
    for seq in lost:
        if runs and seq > runs[-1][-1]:
            runs[-1].append(seq)
        else:
            runs.append([seq])
    return b"".join(
        bytes(RtcpRtpfbPacket(RTCP_RTPFB_NACK, rtcp_ssrc, media_ssrc, lost=run)) for run in runs
    )


class ReceiverReports:
    """A publisher's receiver reports: the loss on its uplink per interval, which needs the
    counts of the report before."""

    def __init__(self) -> None:
        self._prior: dict[int, tuple[int, int]] = {}  # SSRC -> (expected, received)

    def build(
        self,
        rtcp_ssrc: int,
        tracks: Iterable[InboundTrack],
        receiver_of: dict[str, Any],
        max_video_kbps: int,
    ) -> bytes:
        """RR for every track that has begun, plus a REMB capping the publisher's video.
        ``receiver_of`` maps a track's label to its publishing transceiver. The loss reported
        is of what arrived the first time (see below)."""
        tracks = list(tracks)
        reports = []
        for track in tracks:
            if track.base_seq is None:
                continue
            # Loss as the network caused it, before NACK repair: with a fixed REMB this is
            # the publisher's only congestion signal, and what its quality badge shows. Only
            # first arrivals count: on a flooded uplink a packet NACKed twice can arrive twice
            # (and a late original after its retransmission), and counting those hid the
            # loss: a party's Chromium on a 500 kb/s line kept sending 700 kb/s and more
            # (retransmissions on top), and the line's queue lost more than half of it.
            expected, received = track.expected, track.fresh
            prior_e, prior_r = self._prior.get(track.ssrc, (0, 0))
            self._prior[track.ssrc] = (expected, received)
            interval = expected - prior_e
            lost = interval - (received - prior_r)
            fraction = (lost << 8) // interval if interval > 0 and lost > 0 else 0
            if not track.is_video:
                # The loss its subscribers' links meet, so that its encoder adds in-band
                # FEC for them (opus.py): the one way to ask a browser's Opus for it.
                fraction = max(fraction, loss_to_report(track.downstream_loss))
            receiver: RTCRtpReceiver = receiver_of[track.label].receiver
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
        video = [t.ssrc for t in tracks if t.is_video]
        if video:
            fci = pack_remb_fci(max_video_kbps * 1000 * len(video), video)
            payload += bytes(
                RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=fci)
            )
        return payload


# --- from a subscriber -------------------------------------------------------------------


def on_the_link(outlet: Outlet) -> int:
    """Bytes an outlet has put on the subscriber's link: payload, copies, and each packet's
    RTP header and SRTP tag (what a bottleneck counts, and the downlink's estimate is of)."""
    packets = outlet.packets_out + outlet.copies
    return outlet.bytes_out + outlet.copy_bytes + RTP_OVERHEAD * packets


def upstream_loss(outlet: Outlet) -> float:
    """The loss a subscriber reports that happened before the SFU (the publisher's uplink)."""
    track: Any = outlet.track
    if isinstance(outlet, SwitchingOutlet):
        layer = None if outlet.current is None else track.layers[outlet.current]
        return 0.0 if layer is None else float(layer.upstream_loss)
    return float(getattr(track, "upstream_loss", 0.0))


def from_subscriber(downlink: Downlink, outlet: Outlet, sender: RTCRtpSender, packet: Any) -> None:
    """One RTCP packet the subscriber sent about the stream ``outlet`` forwards on
    ``sender``: reports feed its downlink, keyframe requests and NACKs go to the outlet."""
    if isinstance(packet, RtcpRrPacket | RtcpSrPacket):
        for report in packet.reports:
            if report.ssrc != outlet.ssrc:
                continue
            downlink.report(
                outlet.ssrc,
                report.fraction_lost,
                outlet.packets_out,
                upstream_loss(outlet),
                video=outlet.track.is_video,
            )
            downlink.arrivals.report(
                outlet.ssrc,
                report.highest_sequence,
                report.packets_lost,
                # a packet that arrived took its copy's room on the link too
                (outlet.bytes_out / max(outlet.packets_out, 1) + RTP_OVERHEAD)
                * (2 if outlet.copy_after else 1),
            )
            rtt = transceivers.round_trip(sender, report.lsr, report.dlsr)
            if rtt is not None:
                downlink.round_trip(rtt)
    elif isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
        if isinstance(outlet, SwitchingOutlet):
            outlet.keyframe_asked()
        else:
            outlet.track.request_keyframe()
    elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
        with contextlib.suppress(ValueError):
            downlink.remb_bps = float(unpack_remb_fci(packet.fci)[0])
    elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
        outlet.nack(list(packet.lost))
