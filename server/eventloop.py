"""The event loop the server runs on: uvloop (libuv) where it is installed, else asyncio's own.

The live media path spends much of its time in the event loop itself: every UDP datagram
from a publisher is one readiness callback, and asyncio's pure-Python loop costs more per
wake-up than the forwarding it triggers. uvloop does the same work in C (measured with
bench/media.py: about 15% less server CPU per forwarded stream). Everything in courtlink is
plain asyncio code and runs on either loop; the tests run on the same loop as ``courtlink
serve`` (tests/conftest.py installs this policy).
"""

from __future__ import annotations

import asyncio

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop has no Windows build
    uvloop = None  # type: ignore[assignment]


def policy() -> asyncio.AbstractEventLoopPolicy:
    if uvloop is None:  # pragma: no cover
        return asyncio.DefaultEventLoopPolicy()
    chosen: asyncio.AbstractEventLoopPolicy = uvloop.EventLoopPolicy()
    return chosen


def new_event_loop() -> asyncio.AbstractEventLoop:
    return policy().new_event_loop()
