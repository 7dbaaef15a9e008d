"""How many frames one connection may send: a token bucket per socket.

A browser sends a frame now and then (a ping every 10 s, an answer per offer, a toggle per
click), so a socket may send ``per_second`` frames on average with bursts of ``burst``; a
frame beyond that is refused (``rate_limited``) and not looked at. Refusals have a bucket of
their own: a client that keeps sending into refusals (``refusals_per_second`` on average,
``refusal_burst`` at once) is flooding, and only its own socket is closed (``bye`` ``flood``).
Pure: the clock is injected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["ok", "refuse", "cut"]


@dataclass(frozen=True, slots=True)
class FrameLimit:
    per_second: float = 20.0
    burst: int = 40
    refusals_per_second: float = 2.0
    refusal_burst: int = 20


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; starts full."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self.clock = rate, float(burst), clock
        self.tokens, self.at = float(burst), clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class FrameGate:
    """One socket's limit: ``check`` once per frame received, whatever the frame."""

    def __init__(self, limit: FrameLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.frames = TokenBucket(limit.per_second, limit.burst, clock)
        self.refusals = TokenBucket(limit.refusals_per_second, limit.refusal_burst, clock)

    def check(self) -> Verdict:
        if self.frames.take():
            return "ok"
        return "refuse" if self.refusals.take() else "cut"
