"""Every reach into aiortc's (and aioice's) private internals, in one place.

The SFU forwards RTP packets below aiortc's jitter buffer: it takes each decrypted packet from
the publisher's DTLS transport before aiortc routes it to a receiver (so no depacketizer,
jitter buffer or decoder ever runs for a forwarded track), rewrites the header for each
subscriber and re-protects it with that subscriber's SRTP session, then writes it straight to
the nominated ICE pair's UDP transport. aiortc has no public API for any of this, so this
module is the only place that names private attributes; ``check_internals`` verifies their
shape and tests/test_sfu_aiortc_hook.py fails loudly when an aiortc upgrade changes them.
aiortc is pinned to ``>=1.16,<1.17`` in pyproject.toml for the same reason.
"""

from __future__ import annotations

import asyncio
import asyncio.selector_events
import inspect
import logging
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aioice.ice
import aiortc.rtcicetransport
import pylibsrtp
from aiortc import (
    MediaStreamTrack,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
)
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtp import RtpPacket
from pylibsrtp._binding import ffi as _ffi
from pylibsrtp._binding import lib as _lib

from signaling.sfu.batch import SendBatch

# Name-mangled private fields of RTCRtpSender that feed its RTCP sender reports.
_SR_FIELDS = (
    "_RTCRtpSender__ntp_timestamp",
    "_RTCRtpSender__rtp_timestamp",
    "_RTCRtpSender__octet_count",
    "_RTCRtpSender__packet_count",
)
_NTP_EPOCH_OFFSET = 2208988800
DRAIN = 32  # datagrams read per event-loop wakeup on a media socket, beyond the first
_MAX_DATAGRAM = 65536
_HDR = struct.Struct("!BBHII")  # the fixed RTP header: V/P/X/CC, M/PT, sequence, timestamp, SSRC
_srtp_protect = _lib.srtp_protect
_srtp_unprotect = _lib.srtp_unprotect
_SRTP_OK = _lib.srtp_err_status_ok
_DATAGRAM_TRANSPORT = asyncio.selector_events._SelectorDatagramTransport  # type: ignore[attr-defined]
log = logging.getLogger(__name__)


class InternalsChanged(RuntimeError):
    """aiortc/aioice no longer look the way this module relies on."""


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
    for field in _SR_FIELDS:
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
    session_src = inspect.getsource(pylibsrtp.Session)
    needles = ("self._cdata = ", "self._buffer = ", "self._srtp = ", "lib.srtp_protect,")
    for needle in (*needles, "lib.srtp_unprotect)"):
        if needle not in session_src:
            problems.append(f"pylibsrtp.Session ({needle.strip()})")
    if not hasattr(pylibsrtp, "SRTP_MAX_TRAILER_LEN"):
        problems.append("pylibsrtp.SRTP_MAX_TRAILER_LEN")
    read_src = inspect.getsource(_DATAGRAM_TRANSPORT._read_ready)
    if "self._sock.recvfrom(" not in read_src or "datagram_received(data, addr)" not in read_src:
        problems.append("asyncio _SelectorDatagramTransport._sock / _read_ready")
    send_src = inspect.getsource(_DATAGRAM_TRANSPORT.sendto)
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


def intercept_rtp(dtls: RTCDtlsTransport, handler: Callable[[bytes], bool]) -> None:
    """Offer every decrypted RTP packet to ``handler`` before aiortc routes it.

    ``handler(data)`` returns True when it consumed the packet; otherwise aiortc's own routing
    (receiver, jitter buffer, decoder) gets it. Idempotent per transport (the last handler wins).
    """
    original = getattr(dtls, "_courtlink_original_rtp", None)
    if original is None:
        original = dtls._handle_rtp_data
        dtls._courtlink_original_rtp = original  # type: ignore[attr-defined]

    async def handle(data: bytes, arrival_time_ms: int) -> None:
        try:
            consumed = handler(data)
        except Exception:
            # A bug in forwarding must not tear down the publisher's DTLS transport.
            log.exception("RTP handler failed")
            return
        if not consumed:
            await original(data, arrival_time_ms)

    dtls._handle_rtp_data = handle  # type: ignore[method-assign]
    _intercept_datagrams(dtls, handler, original)


def _intercept_datagrams(
    dtls: RTCDtlsTransport,
    handler: Callable[[bytes], bool],
    original: Callable[[bytes, int], Awaitable[None]],
) -> None:
    """The fast path: decrypt and hand over SRTP packets in aioice's datagram callback.

    Without it every packet crosses aioice's queue and a task switch into the DTLS transport's
    receive loop before it is even decrypted; that was about a third of the SFU's CPU.
    DTLS, STUN and SRTCP still take aiortc's normal path.
    """
    connection = dtls.transport._connection
    queue_datagram = getattr(connection, "_courtlink_original_data", None)
    if queue_datagram is None:
        queue_datagram = connection.data_received
        connection._courtlink_original_data = queue_datagram  # type: ignore[attr-defined]
    pending: set[asyncio.Future[None]] = set()
    # The lean unprotect of the transport's current SRTP session (set by the DTLS handshake).
    session: list[Any] = [None, None]

    def data_received(data: bytes, component: int) -> None:
        rx = dtls._rx_srtp
        first = data[0]
        if rx is None or not 127 < first < 192 or (len(data) > 1 and 192 <= data[1] <= 208):
            queue_datagram(data, component)
            return
        if session[0] is not rx:
            session[0], session[1] = rx, lean_unprotect(rx)
        plain = session[1](data)
        if plain is None:
            return
        try:
            if handler(plain):
                return
        except Exception:
            log.exception("RTP handler failed")
            return
        task: asyncio.Future[None] = asyncio.ensure_future(original(plain, int(time.time() * 1000)))
        pending.add(task)
        task.add_done_callback(pending.discard)

    connection.data_received = data_received  # type: ignore[method-assign]
    # One step earlier still: aioice tries to parse every datagram as STUN (an exception per
    # RTP packet) before handing it on; SRTP/SRTCP start with 0b10, STUN with 0b00.
    for protocol in connection._protocols:
        stun_path = getattr(protocol, "_courtlink_original_datagram", None)
        if stun_path is None:
            stun_path = protocol.datagram_received
            protocol._courtlink_original_datagram = stun_path  # type: ignore[attr-defined]

        def datagram_received(
            data: bytes,
            addr: tuple[str, int],
            stun_path: Any = stun_path,
            sock: Any = getattr(protocol.transport, "_sock", None),
        ) -> None:
            if not data or not 127 < data[0] < 192:
                stun_path(data, addr)
                return
            data_received(data, 1)
            # A video frame arrives as a burst of packets: read what else is already queued
            # on the socket now instead of paying one event-loop turn per packet. (uvloop
            # reads its sockets in such a loop itself and has no ``_sock``.)
            if sock is None:
                return
            for _ in range(DRAIN):
                try:
                    data, addr = sock.recvfrom(_MAX_DATAGRAM)
                except OSError:  # BlockingIOError: drained; others: asyncio's next read
                    return
                if data and 127 < data[0] < 192:
                    data_received(data, 1)
                else:
                    stun_path(data, addr)

        protocol.datagram_received = datagram_received  # type: ignore[method-assign,assignment]


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


class SendLink:
    """The sending half of a connected peer: SRTP-protect, then one ``sendto`` on the nominated
    ICE pair. Synchronous, so the forwarding loop never awaits per packet.

    ``forward`` is the SFU's per-packet path: it writes the rewritten RTP header and the
    payload straight into the SRTP session's own buffer, protects them there and hands a view
    of that buffer to the socket: one libsrtp call, one ``sendto``, no intermediate packet
    objects. While asyncio's send queue for the socket is empty the socket is written directly
    (what ``transport.sendto`` does after its checks); otherwise, and for anything that is not
    asyncio's own datagram transport (a test's simulated network), the transport takes the
    packet, keeping order behind what is queued."""

    __slots__ = (
        "_batch",
        "_buffer",
        "_cdata",
        "_closing",
        "_keep",
        "_length",
        "_limit",
        "_protect_rtcp",
        "_queued",
        "_sendto",
        "_sock",
        "_srtp",
        "_view",
        "addr",
        "udp",
    )

    def __init__(self, srtp: Any, udp: asyncio.DatagramTransport, addr: tuple[str, int]) -> None:
        self._keep = srtp  # the session frees its libsrtp context when collected
        self._srtp = srtp._srtp[0]
        self._cdata = srtp._cdata
        self._buffer = srtp._buffer
        self._view = memoryview(srtp._buffer)
        self._limit = len(srtp._cdata) - pylibsrtp.SRTP_MAX_TRAILER_LEN
        self._length = _ffi.new("int *")
        self._protect_rtcp = srtp.protect_rtcp
        self.udp = udp
        self._sendto = udp.sendto
        self._closing = udp.is_closing
        self._queued = udp.get_write_buffer_size  # type: ignore[attr-defined]
        direct = isinstance(udp, _DATAGRAM_TRANSPORT)
        self._sock = udp._sock if direct else None  # type: ignore[attr-defined]
        extra = getattr(udp, "get_extra_info", None)  # a test's simulated network has none
        self._batch = SendBatch.create(extra("socket") if extra else None, addr, udp)
        self.addr = addr

    def forward(
        self, b0: int, b1: int, seq: int, ts: int, ssrc: int, payload: Any, bound: int
    ) -> bool:
        """Send one RTP packet from its header fields and payload (bytes or a memoryview).

        Returns False, having sent nothing, while more than ``bound`` bytes wait to be sent."""
        queued = self._queued()
        if queued > bound:
            return False
        end = 12 + len(payload)
        if end > self._limit:
            raise ValueError("packet is too long")
        length = self._length
        length[0] = end
        batch = self._batch
        if batch is not None and not queued:
            # protect in place in the batch's next slot; it leaves with the burst's sendmmsg
            index = batch.count
            slot = batch.slots[index]
            _HDR.pack_into(slot, 0, b0, b1, seq, ts, ssrc)
            slot[12:end] = payload
            rc = _srtp_protect(self._srtp, batch.ptrs[index], length)
            if rc != _SRTP_OK:
                raise pylibsrtp.Error(f"srtp_protect failed ({rc})")
            batch.added(index, length[0])
            return True
        buffer = self._buffer
        _HDR.pack_into(buffer, 0, b0, b1, seq, ts, ssrc)
        buffer[12:end] = payload
        rc = _srtp_protect(self._srtp, self._cdata, length)
        if rc != _SRTP_OK:
            raise pylibsrtp.Error(f"srtp_protect failed ({rc})")
        sock = self._sock
        if sock is not None and not queued:
            try:
                sock.sendto(self._view[: length[0]], self.addr)
                return True
            except (BlockingIOError, InterruptedError):
                pass  # the kernel's buffer is full: the transport queues it until writable
            except OSError:
                return True  # closed under us (ICE gone) or unreachable: UDP loses it
        if not self._closing():
            self._sendto(buffer[0 : length[0]], self.addr)  # a copy: the buffer is reused
        return True

    def send_rtp(self, packet: bytes) -> None:
        """Send a whole RTP packet (retransmissions; test and load peers)."""
        n = len(packet)
        if n > self._limit:
            raise ValueError("packet is too long")
        self._buffer[0:n] = packet
        self._length[0] = n
        rc = _srtp_protect(self._srtp, self._cdata, self._length)
        if rc != _SRTP_OK:
            raise pylibsrtp.Error(f"srtp_protect failed ({rc})")
        if not self._closing():
            self._sendto(self._buffer[0 : self._length[0]], self.addr)

    def send_rtcp(self, packet: bytes) -> None:
        if not self._closing():
            self._sendto(self._protect_rtcp(packet), self.addr)

    def buffered(self) -> int:
        """Bytes waiting in the UDP transport's user-space buffer (the send queue)."""
        return int(self._queued())


def lean_unprotect(session: pylibsrtp.Session) -> Callable[[bytes], bytes | None]:
    """``session.unprotect`` without pylibsrtp's per-call checks and allocations: the same
    libsrtp call on the session's own buffer. None for a packet that fails authentication or
    the replay check (dropped, as aiortc drops it)."""
    srtp = session._srtp[0]
    cdata = session._cdata
    buffer = session._buffer
    size = len(cdata)
    length = _ffi.new("int *")

    def lean(packet: bytes, _keep: pylibsrtp.Session = session) -> bytes | None:
        # _keep: the session frees its libsrtp context when collected; hold it while in use
        n = len(packet)
        if n > size:
            return None
        buffer[0:n] = packet
        length[0] = n
        if _srtp_unprotect(srtp, cdata, length) != _SRTP_OK:
            return None
        return buffer[0 : length[0]]  # type: ignore[no-any-return]

    return lean


def send_link(dtls: RTCDtlsTransport) -> SendLink | None:
    """The send path of a connected DTLS transport, or None while it is not connected."""
    srtp = dtls._tx_srtp
    if srtp is None or dtls.state != "connected":
        return None
    pair = dtls.transport._connection._nominated.get(1)
    if pair is None:
        return None
    udp = pair.protocol.transport
    return SendLink(srtp, udp, pair.remote_addr)


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
    setattr(sender, _SR_FIELDS[0], ntp)
    setattr(sender, _SR_FIELDS[1], rtp_timestamp)
    setattr(sender, _SR_FIELDS[2], octets & 0xFFFFFFFF)
    setattr(sender, _SR_FIELDS[3], packets & 0xFFFFFFFF)


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
