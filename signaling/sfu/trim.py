"""Give the memory a departed peer used back to the operating system.

A peer connection allocates a few megabytes in C (OpenSSL's DTLS context, libsrtp sessions,
aioice's sockets, receive buffers) and in Python. When it closes, glibc keeps the freed chunks
inside its heap for reuse, scattered between live ones, so the server's resident memory only
ever climbs to the high-water mark of its busiest moment and stays there. ``malloc_trim(0)``
returns every whole free page of the heap to the kernel. It costs about a millisecond, so it
runs at most once per ``DELAY`` seconds, a moment after a departure (a session ending closes
many peers at once: one trim covers them all).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import cffi

DELAY = 2.0  # seconds

_ffi = cffi.FFI()
_ffi.cdef("int malloc_trim(size_t pad);")
try:
    _trim: Any = _ffi.dlopen(None).malloc_trim if sys.platform.startswith("linux") else None
except (OSError, AttributeError):  # pragma: no cover - not glibc (musl has no malloc_trim)
    _trim = None


class Trimmer:
    """Coalesced ``malloc_trim``: ``soon()`` after each departure; one trim per ``delay``."""

    def __init__(self, delay: float = DELAY) -> None:
        self.delay = delay
        self.trims = 0
        self._handle: asyncio.TimerHandle | None = None

    def soon(self) -> None:
        # Already due: that trim covers this departure too (steady churn must not keep
        # postponing it forever).
        if _trim is None or self._handle is not None:
            return
        self._handle = asyncio.get_running_loop().call_later(self.delay, self.trim)

    def trim(self) -> None:
        self._handle = None
        if _trim is not None:
            _trim(0)
            self.trims += 1

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
