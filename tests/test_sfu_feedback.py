"""What the SFU tells a publisher of its uplink (signaling/sfu/feedback.py): the loss in its
receiver reports is of what arrived the first time, so retransmissions that arrive twice on
a flooded line do not hide the loss that is the publisher's one congestion signal."""

from __future__ import annotations

from _ice import local_configuration
from aiortc import RTCPeerConnection
from aiortc.rtp import RtcpPacket, RtcpRrPacket

from signaling.sfu.feedback import ReceiverReports
from signaling.sfu.inbound import InboundTrack
from tests.test_sfu_simulcast import rtp


async def test_a_retransmission_that_arrives_twice_does_not_hide_the_loss() -> None:
    pc = RTCPeerConnection(local_configuration())
    try:
        publishing = pc.addTransceiver("video", direction="recvonly")
        track = InboundTrack(
            "s1-p1", "camera", "video", 1, send_pli=lambda s: None, on_first_packet=lambda t: None
        )
        # Ten packets sent; 3 and 4 lost on the way; 3 then arrives twice (NACKed twice,
        # both retransmissions got through), 4 never.
        for seq in (1, 2, 5, 6, 7, 8, 9, 10, 3, 3):
            track.on_rtp(rtp(seq, seq * 3000, ssrc=1, key=seq == 1))
        payload = ReceiverReports().build(7, [track], {"camera": publishing}, 1500)
        report = next(p for p in RtcpPacket.parse(payload) if isinstance(p, RtcpRrPacket))
        (block,) = report.reports
        assert block.ssrc == 1 and block.highest_sequence == 10
        assert block.fraction_lost == (2 << 8) // 10  # two of ten: before any repair
        assert block.packets_lost == 2
    finally:
        await pc.close()
