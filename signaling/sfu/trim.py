"""Give the memory a departed peer used back to the operating system.

A departed peer's objects form reference cycles (aiortc's connection, transports and tasks
point at each other), so they are freed only when Python's cyclic collector next runs a full
collection, which with a server's many long-lived objects may be minutes away; meanwhile new
peers allocate around them and the heap fragments. So the trim first collects (``gc.collect``),
then returns the freed pages. Measured with bench/media.py --cycles (server RSS over 200
join/leave cycles): +16.5 MB before any of this, +6.1 MB with the trim alone, +2.5 MB with the
collection too. The collection pauses the loop for 0.2-10 ms (median ~1 ms, measured in the
bench server) because ``courtlink serve`` freezes its start-up objects once started
(``freeze_long_lived`` below); unfrozen it would be ~55 ms. It runs at most every ``DELAY``
seconds and only after someone left, when a renegotiation is under way anyway.

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
import gc
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


def freeze_long_lived() -> None:
    """Move everything alive now (modules, the app, its routes and templates: all of it lives
    as long as the process) out of the cyclic collector's view, so the trim's collection scans
    only what sessions created. Call once, when the server has started."""
    gc.collect()
    gc.freeze()


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
        gc.collect()
        if _trim is not None:
            _trim(0)
            self.trims += 1

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
