"""Send batching: the packets forwarded to one subscriber during one turn of the event loop
leave in one ``sendmmsg(2)`` system call instead of one ``sendto`` each.

A publisher's video frame arrives as a burst of RTP packets, and every packet goes out once per
subscriber. Sending each with its own ``sendto`` costs a system call and, on a busy host, a
possible reschedule per packet; that was the largest single cost of the SFU. Here each
subscriber's socket gets a ``SendBatch``: ``SendLink.forward`` SRTP-protects the packet straight
into the batch's next slot, and a callback scheduled with ``call_soon`` when the first batch
fills (``flush_pending``) sends every batch that has packets, one call each, once the loop has
run the datagram callbacks it had ready: with asyncio's selector loop and with uvloop alike.
A batch that fills up is sent at once.

Python's ``socket`` has no ``sendmmsg``; it is called through cffi (already in use by pylibsrtp)
in ABI mode on the C library, so nothing is compiled. Where that is not possible (another OS,
an address family other than IPv4/IPv6) ``SendBatch.create`` returns None and the link sends
packet by packet.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import sys
from typing import Any

import cffi

SLOTS = 32  # packets per batch; a 1.5 Mbps 720p frame is 5-15 packets
SLOT_BYTES = 1500  # one datagram (pylibsrtp sizes its own buffer the same way)

_ffi = cffi.FFI()
_ffi.cdef(
    """
    struct iovec { void *iov_base; size_t iov_len; };
    struct msghdr {
        void *msg_name; unsigned int msg_namelen; struct iovec *msg_iov; size_t msg_iovlen;
        void *msg_control; size_t msg_controllen; int msg_flags;
    };
    struct mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; };
    int sendmmsg(int sockfd, struct mmsghdr *msgvec, unsigned int vlen, int flags);
    """
)
try:
    _libc: Any = _ffi.dlopen(None) if sys.platform.startswith("linux") else None
    _sendmmsg: Any = _libc.sendmmsg if _libc is not None else None
except (OSError, AttributeError):  # pragma: no cover - not Linux/glibc
    _sendmmsg = None

_PENDING: list[SendBatch] = []  # batches holding packets, in the order they were started
_state = {"scheduled": False}


def _sockaddr(addr: tuple[Any, ...]) -> bytes | None:
    """The C ``sockaddr_in``/``sockaddr_in6`` for a (host, port) pair, or None."""
    try:
        ip = ipaddress.ip_address(addr[0].split("%")[0])
    except ValueError:
        return None
    port = int(addr[1]).to_bytes(2, "big")
    if ip.version == 4:
        return socket.AF_INET.to_bytes(2, sys.byteorder) + port + ip.packed + bytes(8)
    scope = addr[3] if len(addr) > 3 else 0
    flow = addr[2] if len(addr) > 2 else 0
    return (
        socket.AF_INET6.to_bytes(2, sys.byteorder)
        + port
        + int(flow).to_bytes(4, "big")
        + ip.packed
        + int(scope).to_bytes(4, sys.byteorder)
    )


class SendBatch:
    """Up to ``SLOTS`` protected datagrams for one socket and one destination."""

    __slots__ = ("_data", "_iov", "_msgs", "_name", "addr", "count", "ptrs", "slots", "sock", "udp")

    def __init__(self, sock: Any, addr: tuple[Any, ...], name: bytes, udp: Any) -> None:
        self.sock = sock
        self.addr = addr
        self.udp = udp
        self.count = 0
        self._name = _ffi.new("char[]", name)
        self._data = _ffi.new("char[]", SLOTS * SLOT_BYTES)
        self._iov = _ffi.new("struct iovec[]", SLOTS)
        self._msgs = _ffi.new("struct mmsghdr[]", SLOTS)
        self.ptrs = [self._data + i * SLOT_BYTES for i in range(SLOTS)]
        self.slots = [_ffi.buffer(p, SLOT_BYTES) for p in self.ptrs]
        for i in range(SLOTS):
            self._iov[i].iov_base = self.ptrs[i]
            hdr = self._msgs[i].msg_hdr
            hdr.msg_name = self._name
            hdr.msg_namelen = len(name)
            hdr.msg_iov = self._iov + i
            hdr.msg_iovlen = 1

    @classmethod
    def create(
        cls, sock: socket.socket | None, addr: tuple[Any, ...], udp: Any
    ) -> SendBatch | None:
        if _sendmmsg is None or sock is None:
            return None
        name = _sockaddr(addr)
        if name is None:
            return None
        return cls(sock, addr, name, udp)

    def added(self, index: int, length: int) -> None:
        """Slot ``index`` now holds a ``length``-byte datagram."""
        self._iov[index].iov_len = length
        self.count = index + 1
        if index == 0:
            _PENDING.append(self)
            if not _state["scheduled"]:
                _state["scheduled"] = True
                asyncio.get_running_loop().call_soon(flush_pending)
        elif index + 1 == SLOTS:
            self.flush()

    def flush(self) -> None:
        count, self.count = self.count, 0
        if not count:
            return
        # The descriptor is read now, never kept: once the socket is closed (fileno -1) its
        # number may already belong to another connection.
        fd = self.sock.fileno()
        if fd < 0:
            return
        sent = _sendmmsg(fd, self._msgs, count, 0)
        if sent == count:
            return
        if sent < 0:
            errno = _ffi.errno
            if errno not in (11, 4):  # EAGAIN/EWOULDBLOCK, EINTR: queue; anything else: lost
                return
            sent = 0
        # The kernel took only part: the transport queues the rest (and writes it when the
        # socket is writable again); the forwarding path sees that queue and backs off.
        if self.udp.is_closing():
            return
        for i in range(sent, count):
            self.udp.sendto(bytes(self.slots[i][0 : self._iov[i].iov_len]), self.addr)


def flush_pending() -> None:
    """Send every batch that holds packets (the loop has run the callbacks it had ready)."""
    _state["scheduled"] = False
    while _PENDING:
        batches = _PENDING[:]
        _PENDING.clear()
        for batch in batches:
            batch.flush()
