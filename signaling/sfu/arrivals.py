"""What reached a subscriber, stream by stream, from the receiver reports it sends: each
report block's extended highest sequence number and cumulative loss give the packets that
arrived since the stream's last report; ``Downlink`` takes their sum as what its link carried.

Each stream's rate is taken over the span of its own reports, not over the second since the
last update: on a lossy uplink a lost report makes the next one cover two seconds, which read
as twice the rate (at a bench round's first fall that set the ceiling at 735 kb/s on a
500 kb/s line, and the line's queue stayed full for 15 s under it).
"""

from __future__ import annotations

import time

# A stream's rate of arrival is taken over at least this span of its reports, and counts for
# the link while its last one is this recent (Chromium reports on audio every 5 s; a stream
# paused reads 0 at its next report, one gone says nothing after this).
MIN_SPAN_S, STREAM_RATE_FRESH_S = 0.5, 6.0


class Arrivals:
    """Per forwarded stream (by the outlet's SSRC): what its reports said last, what arrived
    since its rate was last taken and from when, and that rate with when it was taken."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[int, int]] = {}  # SSRC -> (highest, lost)
        self._spans: dict[int, tuple[float, float]] = {}  # SSRC -> (bits, since)
        self._rates: dict[int, tuple[float, float]] = {}  # SSRC -> (bps, taken at)

    def report(
        self, ssrc: int, highest: int, lost: int, packet_bytes: float, now: float | None = None
    ) -> None:
        """A report block for one stream: its packets since the last block, each counted at
        the stream's mean size on the link (the same measure as what is sent)."""
        now = time.monotonic() if now is None else now
        before = self._last.get(ssrc)
        self._last[ssrc] = (highest, lost)
        if before is None:
            self._spans[ssrc] = (0.0, now)
            return
        # A duplicate counts as received (RFC 3550 A.3), so the audio's copies bring the
        # cumulative loss down: a fall in it is not more packets than were sent.
        packets = (highest - before[0]) - max(0, lost - before[1])
        if not 0 <= packets < 10_000:  # a restarted stream, or a report out of order
            self._spans[ssrc] = (0.0, now)
            return
        bits, since = self._spans.get(ssrc, (0.0, now))
        bits += packets * packet_bytes * 8
        if now - since >= MIN_SPAN_S:
            self._rates[ssrc] = (bits / (now - since), now)
            bits, since = 0.0, now
        self._spans[ssrc] = (bits, since)

    def rate(self, now: float) -> float | None:
        """The sum of the streams' recent rates; None while no stream has one."""
        self._rates = {k: v for k, v in self._rates.items() if now - v[1] <= STREAM_RATE_FRESH_S}
        if not self._rates:
            return None
        return sum(bps for bps, _ in self._rates.values())
