"""A downlink's probe: duplicates of the video being sent, a little over the rate the link
is known to carry, to learn whether it carries more before a camera steps up into it.

Why, and what a probe's verdict does to the estimate, is ``downlink``'s docstring ("Probes");
this module keeps one probe's state and judges it. A probe runs ``PROBE_S``; its reports are
awaited ``PROBE_REPORT_S`` after. It passes when nothing fell since it began and no report saw
a queue: the link carried what went on it while it ran, duplicates and all (the allocation's
costs, measured layer rates and audio copies, are not what was sent, and a probe that fell
short of its rate proves only what it sent).
"""

from __future__ import annotations

# Duplicates sent this long, their reports awaited this long after, each probe this far
# over the ceiling at most (``Probe.begin``; a 15 % step on a full line is a queue of a few
# hundred ms while it lasts, a whole layer's step was a second and lost audio).
# (A probe shorter than a line's burst shows nothing: the test line's shaper lets 15 kB
# through at once, 1.5 s at 15 % over 500 kb/s.)
PROBE_S, PROBE_REPORT_S, PROBE_STEP = 3.0, 1.5, 1.15


class Probe:
    """The probe of one downlink: none runs while ``bps`` is 0."""

    def __init__(self) -> None:
        self.bps = 0.0  # the duplicates asked for, while one runs
        self.rate = 0.0  # what it puts on the link in all
        self.start = self.end = 0.0
        self._queued = False  # a report saw a queue while it ran
        self._sent = 0.0  # the highest rate sent on the link while it runs
        # when the last one ended: a fall reported just after is still its doing
        self._over_at = -PROBE_REPORT_S - 1.0
        self.count = self.passed = 0

    def begin(self, now: float, sending: float, wanted: float, ceiling: float | None) -> None:
        """Duplicates up to ``PROBE_STEP`` over the ceiling (or up to ``wanted``, if less)
        over what is ``sending``, unless a probe runs already."""
        if self.bps:
            return
        rate = min(wanted, max(sending, ceiling or 0.0) * PROBE_STEP)
        if rate > sending:
            self.bps, self.rate = rate - sending, rate
            self.start, self.end = now, now + PROBE_S
            self.count += 1

    def running(self, now: float) -> bool:
        return bool(self.bps) and now < self.end

    def to_blame(self, now: float) -> bool:
        """Whether a fall reported now is the probe's doing: one runs, or just ended."""
        return self.bps > 0 or now - self._over_at <= PROBE_REPORT_S

    def judge(
        self, now: float, queued: bool, sent_bps: float | None, fell_at: float
    ) -> float | None:
        """A second's reports (``queued``: they saw a queue that stops growth): once a
        probe's reports are in and it passed, the rate the link carried (the new ceiling),
        else None. (A probe a little over a line's rate fills it slowly, and a second and a
        half may not take it to a fall: a queue fails it too.)"""
        if not self.bps:
            return None
        if self.start < now <= self.end + 1.0 and sent_bps is not None:
            self._sent = max(self._sent, sent_bps)
        if queued and now > self.start:
            self._queued = True
            self.end = min(self.end, now)  # queued already: no more duplicates
        if now < self.end + PROBE_REPORT_S:
            return None
        clean = fell_at < self.start and not self._queued
        carried = min(self.rate, self._sent)
        self.stop(now)
        if clean:
            self.passed += 1
            return carried
        return None

    def stop(self, now: float) -> None:
        if self.bps:
            self.bps = self._sent = 0.0
            self._queued = False
            self._over_at = now
