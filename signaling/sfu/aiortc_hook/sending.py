"""The send path: SRTP-protect with a subscriber's session, then one ``sendto`` on its
nominated ICE pair (``SendLink``), with no packet objects and no await per packet."""

from __future__ import annotations

import asyncio
import asyncio.selector_events
import struct
from typing import Any

import pylibsrtp
from aiortc.rtcdtlstransport import RTCDtlsTransport
from pylibsrtp._binding import ffi as _ffi
from pylibsrtp._binding import lib as _lib

from signaling.sfu.batch import SendBatch

_HDR = struct.Struct("!BBHII")  # the fixed RTP header: V/P/X/CC, M/PT, sequence, timestamp, SSRC
_srtp_protect = _lib.srtp_protect
_SRTP_OK = _lib.srtp_err_status_ok
DATAGRAM_TRANSPORT = asyncio.selector_events._SelectorDatagramTransport  # type: ignore[attr-defined]


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
        direct = isinstance(udp, DATAGRAM_TRANSPORT)
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
