"""Every reach into aiortc's (and aioice's) private internals, in this one package.

The SFU forwards RTP packets below aiortc's jitter buffer: it takes each decrypted packet from
the publisher's DTLS transport before aiortc routes it to a receiver (so no depacketizer,
jitter buffer or decoder ever runs for a forwarded track; ``receiving``), rewrites the header
for each subscriber and re-protects it with that subscriber's SRTP session, then writes it
straight to the nominated ICE pair's UDP transport (``sending``); ``transceivers`` reaches
into aiortc's senders and receivers (SSRCs, msid, sender reports, RTCP). aiortc has no public
API for any of this, so this package is the only place that names private attributes;
``check_internals`` (here) verifies their shape and tests/test_sfu_aiortc_hook.py fails loudly
when an aiortc upgrade changes them. aiortc is pinned to ``>=1.16,<1.17`` in pyproject.toml
for the same reason.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import aioice.ice
import aiortc.rtcicetransport
import pylibsrtp
from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.rtcdtlstransport import RTCDtlsTransport

from signaling.sfu.aiortc_hook.sending import DATAGRAM_TRANSPORT
from signaling.sfu.aiortc_hook.transceivers import SR_FIELDS


class InternalsChanged(RuntimeError):
    """aiortc/aioice no longer look the way this module relies on."""


@functools.cache
def internals_checked() -> bool:
    """``check_internals`` once per process, for every new SFU: the classes cannot change
    while the process runs, and reading aiortc's source costs about a third of a second of
    CPU each time. A failed check is not remembered: it raises again."""
    check_internals()
    return True


def check_internals() -> None:
    """Raise ``InternalsChanged`` unless every private hook point has the expected shape."""
    problems: list[str] = []

    def params(fn: Any) -> list[str]:
        return list(inspect.signature(fn).parameters)

    if params(RTCDtlsTransport._handle_rtp_data) != ["self", "data", "arrival_time_ms"]:
        problems.append("RTCDtlsTransport._handle_rtp_data(data, arrival_time_ms)")
    if "self._handle_rtp_data(" not in inspect.getsource(RTCDtlsTransport._recv_next):
        problems.append("RTCDtlsTransport._recv_next no longer calls self._handle_rtp_data")
    if params(RTCDtlsTransport._send_rtp) != ["self", "data"]:
        problems.append("RTCDtlsTransport._send_rtp(data)")
    init_src = inspect.getsource(RTCDtlsTransport.__init__)
    if "self._tx_srtp" not in init_src or "self._rx_srtp" not in init_src:
        problems.append("RTCDtlsTransport._tx_srtp/_rx_srtp")
    if params(RTCRtpReceiver._handle_rtp_packet) != ["self", "packet", "arrival_time_ms"]:
        problems.append("RTCRtpReceiver._handle_rtp_packet(packet, arrival_time_ms)")
    if params(RTCRtpSender._handle_rtcp_packet) != ["self", "packet"]:
        problems.append("RTCRtpSender._handle_rtcp_packet(packet)")
    sender_src = inspect.getsource(RTCRtpSender)
    for field in SR_FIELDS:
        if "self.__" + field.split("__", 1)[1] not in sender_src:
            problems.append(f"RTCRtpSender.{field}")
    if "self._stream_id" not in sender_src or "self._track_id" not in sender_src:
        problems.append("RTCRtpSender._stream_id/_track_id (msid)")
    if "self._ssrc" not in sender_src:
        problems.append("RTCRtpSender._ssrc")
    rx_src = inspect.getsource(RTCRtpReceiver)
    if "self.__started = True" not in rx_src:
        problems.append("RTCRtpReceiver.__started")
    if (
        "self.__remote_bitrate_estimator = RemoteBitrateEstimator()" not in rx_src
        or "if self.__remote_bitrate_estimator is not None:" not in rx_src
    ):
        problems.append("RTCRtpReceiver.__remote_bitrate_estimator (may be None)")
    if "self.__lsr[packet.ssrc]" not in rx_src or "self.__lsr_time[packet.ssrc]" not in rx_src:
        problems.append("RTCRtpReceiver.__lsr/__lsr_time")
    conn_src = inspect.getsource(aioice.ice.Connection)
    if "self._nominated" not in conn_src:
        problems.append("aioice Connection._nominated")
    connect_src = inspect.getsource(aioice.ice.Connection.connect)
    if "self._query_consent_task = asyncio.create_task(self.query_consent())" not in connect_src:
        problems.append("aioice Connection.connect -> self.query_consent() (consent.py)")
    if "def build_request(self, pair: CandidatePair, nominate: bool)" not in conn_src:
        problems.append("aioice Connection.build_request(pair, nominate)")
    session_src = inspect.getsource(pylibsrtp.Session)
    needles = ("self._cdata = ", "self._buffer = ", "self._srtp = ", "lib.srtp_protect,")
    for needle in (*needles, "lib.srtp_unprotect)"):
        if needle not in session_src:
            problems.append(f"pylibsrtp.Session ({needle.strip()})")
    if not hasattr(pylibsrtp, "SRTP_MAX_TRAILER_LEN"):
        problems.append("pylibsrtp.SRTP_MAX_TRAILER_LEN")
    read_src = inspect.getsource(DATAGRAM_TRANSPORT._read_ready)
    if "self._sock.recvfrom(" not in read_src or "datagram_received(data, addr)" not in read_src:
        problems.append("asyncio _SelectorDatagramTransport._sock / _read_ready")
    send_src = inspect.getsource(DATAGRAM_TRANSPORT.sendto)
    if "if not self._buffer:" not in send_src or "self._sock.sendto(data, addr)" not in send_src:
        problems.append("asyncio _SelectorDatagramTransport.sendto (direct write when empty)")
    if params(aioice.ice.Connection.data_received) != ["self", "data", "component"]:
        problems.append("aioice Connection.data_received(data, component)")
    if "self._protocols: list[StunProtocol]" not in conn_src:
        problems.append("aioice Connection._protocols")
    if params(aioice.ice.StunProtocol.datagram_received) != ["self", "data", "addr"]:
        problems.append("aioice StunProtocol.datagram_received(data, addr)")
    proto_src = inspect.getsource(aioice.ice.StunProtocol.datagram_received)
    if "self.receiver.data_received(" not in proto_src:
        problems.append("aioice StunProtocol.datagram_received -> receiver.data_received")
    if "self._connection = " not in inspect.getsource(aiortc.rtcicetransport.RTCIceTransport):
        problems.append("RTCIceTransport._connection")
    pair_src = inspect.getsource(aioice.ice.CandidatePair)
    if "self.protocol" not in pair_src or "def remote_addr" not in pair_src:
        problems.append("aioice CandidatePair.protocol/remote_addr")
    if "self._codecs" not in inspect.getsource(RTCRtpTransceiver):
        problems.append("RTCRtpTransceiver._codecs")
    if problems:
        raise InternalsChanged("aiortc internals changed: " + "; ".join(problems))
