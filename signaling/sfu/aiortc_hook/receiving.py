"""The receive path: decrypted RTP from a publisher's DTLS transport, before aiortc routes it.

``intercept_rtp`` offers every packet to the SFU's handler first; its fast path decrypts SRTP
in aioice's datagram callback itself (``lean_unprotect``), draining the socket per wakeup.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pylibsrtp
from aiortc.rtcdtlstransport import RTCDtlsTransport
from pylibsrtp._binding import ffi as _ffi
from pylibsrtp._binding import lib as _lib

DRAIN = 32  # datagrams read per event-loop wakeup on a media socket, beyond the first
_MAX_DATAGRAM = 65536
_srtp_unprotect = _lib.srtp_unprotect
_SRTP_OK = _lib.srtp_err_status_ok
log = logging.getLogger(__name__)


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
