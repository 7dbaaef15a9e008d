"""aiortc's senders, receivers and transceivers as the SFU uses them: idle sender tracks,
packets and RTCP taken from them, their SSRCs and msid, the sender reports they send."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import RtcpSrPacket, RtpPacket

# Name-mangled private fields of RTCRtpSender that feed its RTCP sender reports.
SR_FIELDS = (
    "_RTCRtpSender__ntp_timestamp",
    "_RTCRtpSender__rtp_timestamp",
    "_RTCRtpSender__octet_count",
    "_RTCRtpSender__packet_count",
)
_NTP_EPOCH_OFFSET = 2208988800


class IdleTrack(MediaStreamTrack):
    """A sender track that never yields a frame.

    A forwarding sender must exist (it owns the SSRC, receives the subscriber's RTCP and sends
    sender reports) but must never encode: with no track, aiortc's RTP loop polls every 20 ms;
    with this track it waits forever, and ``get_encoder`` is never reached.
    """

    def __init__(self, kind: str, track_id: str) -> None:
        super().__init__()
        self.kind = kind
        self._id = track_id

    async def recv(self) -> Any:
        await asyncio.get_running_loop().create_future()


def dtls_transport(pc: RTCPeerConnection) -> RTCDtlsTransport:
    """The (bundled) DTLS transport of a peer connection with at least one transceiver."""
    transport: RTCDtlsTransport = pc.getTransceivers()[0].receiver.transport
    return transport


def intercept_receiver(
    receiver: RTCRtpReceiver, handler: Callable[[RtpPacket], None] | None = None
) -> None:
    """Route packets aiortc hands this receiver to ``handler`` (or drop them): no jitter
    buffer, no decoder. Used for the SFU's publisher-facing receivers and by test peers."""

    async def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
        if handler is not None:
            handler(packet)

    receiver._handle_rtp_packet = handle  # type: ignore[method-assign]


def drop_bitrate_estimator(receiver: RTCRtpReceiver) -> None:
    """Free the receive-side bandwidth estimator aiortc builds for every video receiver.

    It is a 1,000-bucket rate counter (about a thousand small objects) that only packets
    reaching the receiver feed; the SFU's receivers get none (publishers' packets are taken
    below them, slots only send). Kept for the life of each peer connection, thousands of
    such objects per join fragmented the heap: the server's memory climbed ~0.3 MB with each
    participant who came and went. aiortc's audio receivers already have None here."""
    receiver._RTCRtpReceiver__remote_bitrate_estimator = None  # type: ignore[attr-defined]


def receiver_started(receiver: RTCRtpReceiver) -> bool:
    """Whether aiortc registered this receiver's SSRCs with its transport (until then it
    discards packets for them): test peers wait for it before answering a renegotiation."""
    return bool(receiver._RTCRtpReceiver__started)  # type: ignore[attr-defined]


def intercept_sender_rtcp(
    sender: RTCRtpSender, handler: Callable[[Any], Awaitable[None] | None]
) -> None:
    """Send the RTCP that subscribers address to this sender (NACK, PLI, FIR, REMB, RR) to
    ``handler`` instead of aiortc (which would try to retransmit or re-encode)."""

    async def handle(packet: Any) -> None:
        result = handler(packet)
        if result is not None:
            await result

    sender._handle_rtcp_packet = handle  # type: ignore[method-assign]


def sender_ssrc(sender: RTCRtpSender) -> int:
    """The SSRC aiortc chose for a sender: a slot's forwarded stream, or (for the publishing
    m-lines' senders, which never send media) the sender SSRC of the SFU's RTCP feedback."""
    return int(sender._ssrc)


def set_msid(sender: RTCRtpSender, stream_id: str, track_id: str) -> None:
    """What the next offer's ``a=msid`` says for this sender (browsers group by stream id)."""
    sender._stream_id = stream_id
    sender._track_id = track_id


def update_sender_report(
    sender: RTCRtpSender, *, packets: int, octets: int, rtp_timestamp: int, sent_at: float
) -> None:
    """Make aiortc's periodic RTCP sender report describe what we forwarded on this SSRC."""
    ntp = int((sent_at + _NTP_EPOCH_OFFSET) * (1 << 32))
    setattr(sender, SR_FIELDS[0], ntp)
    setattr(sender, SR_FIELDS[1], rtp_timestamp)
    setattr(sender, SR_FIELDS[2], octets & 0xFFFFFFFF)
    setattr(sender, SR_FIELDS[3], packets & 0xFFFFFFFF)


# Sender reports remembered per sender, by LSR (the middle of their NTP time): when each
# went out. A report block names the SR it answers; on a queued link that is seldom the last
# one sent (aiortc keeps only that), and the round trip matters most exactly then.
_SR_SENT = "_courtlink_sr_sent"
SR_HISTORY = 16


def remember_sender_reports(sender: RTCRtpSender) -> None:
    """Keep when each of this sender's SRs went out, for ``round_trip``."""
    sent: dict[int, float | None] = {}
    setattr(sender, _SR_SENT, sent)
    send = sender._send_rtcp

    async def sending(packets: list[Any]) -> None:
        for packet in packets:
            if isinstance(packet, RtcpSrPacket):
                lsr = (packet.sender_info.ntp_timestamp >> 16) & 0xFFFFFFFF
                # An SR that repeats an earlier one's NTP time (nothing was forwarded in
                # between) cannot be told from it: neither times a round trip.
                sent[lsr] = None if lsr in sent else time.time()
                while len(sent) > SR_HISTORY:
                    del sent[next(iter(sent))]
        await send(packets)

    sender._send_rtcp = sending  # type: ignore[method-assign]


def round_trip(sender: RTCRtpSender, lsr: int, dlsr: int) -> float | None:
    """The round trip, in seconds, that a subscriber's report block measures: from when the
    SR it answers went out to now, less the time the subscriber held it (DLSR; RFC 3550
    6.4.1). None when that SR is not known (``remember_sender_reports``) or ambiguous."""
    sent: dict[int, float | None] = getattr(sender, _SR_SENT, {})
    at = sent.get(lsr) if lsr else None
    if at is None:
        return None
    return time.time() - at - dlsr / 65536


def last_sender_report(receiver: RTCRtpReceiver, ssrc: int) -> tuple[int, int]:
    """(LSR, DLSR) for a receiver report about ``ssrc``, from the publisher's last SR."""
    lsr: dict[int, int] = receiver._RTCRtpReceiver__lsr  # type: ignore[attr-defined]
    lsr_time: dict[int, float] = receiver._RTCRtpReceiver__lsr_time  # type: ignore[attr-defined]
    if ssrc not in lsr:
        return 0, 0
    delay = time.time() - lsr_time[ssrc]
    return lsr[ssrc], int(delay * 65536) if 0 < delay < 65536 else 0


def negotiated_payload_type(transceiver: Any) -> int:
    """The payload type of the first negotiated codec of a transceiver (after the answer)."""
    codecs = transceiver._codecs
    return int(codecs[0].payloadType)
