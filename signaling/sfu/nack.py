"""Upstream loss recovery: the SFU asks a publisher again for the video packets it lost.

A packet lost between a party and the SFU is lost for every viewer and for the recording,
with its whole frame (and, for VP8, everything up to the next keyframe). So, per published
video track, ``NackTracker`` watches the incoming sequence numbers and, for every gap, sends
the publisher an RTCP generic NACK (RFC 4585 section 6.2.1) at once, then again every
``retry`` seconds (about one round trip, learnt from how long recoveries take) up to
``MAX_TRIES`` times, and gives up on a packet after ``GIVE_UP`` seconds or once it is more than
``MAX_BEHIND`` packets behind the newest one. At most ``MAX_MISSING`` packets are tracked; a
bigger hole is not worth asking for: the forwarders and recorder recover at the next keyframe
(the tracker asks for one).

The retransmission comes back on the same SSRC with its original sequence number: the SFU
negotiates VP8 without RTX (peer.py), and a WebRTC sender without RTX resends the packet as it
was (found by experiment with Chromium through tests/e2e/test_bad_network.py, and with aiortc
in tests/test_sfu_nack.py; both count ``recovered`` > 0). Nothing is decoded: a late packet
goes through the same pass-through path as any other (outlet.py maps it by its sequence
number; the recorder's assembler reorders within a short window).

Audio gets no NACKs: Opus conceals a lost 20 ms packet itself, and a late one is useless to
a live listener.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_TRIES = 4  # requests per lost packet
GIVE_UP = 1.0  # seconds after the loss was seen
MAX_BEHIND = 400  # packets behind the newest: older than the recorder's and viewers' windows
MAX_MISSING = 256  # packets tracked at once (bounded memory on a hostile or awful link)
MIN_RETRY, MAX_RETRY = 0.02, 0.4  # bounds of the retry interval (seconds)
INITIAL_RETRY = 0.15


class NackTracker:
    """Sequence-number bookkeeping and NACK timing for one publisher video track.

    ``seen(seq, now)`` runs once per packet on the forwarding path: the in-order case is one
    comparison. ``send(lost)`` sends one NACK for a list of 16-bit sequence numbers;
    ``schedule(delay, callback)`` arranges a retry (the event loop's ``call_later``);
    ``keyframe()`` asks the publisher for a keyframe when a hole is beyond repair. ``clock``
    is the clock ``seen`` is given the time of.
    """

    __slots__ = (
        "_clock",
        "_keyframe",
        "_missing",
        "_schedule",
        "_send",
        "_timer",
        "given_up",
        "highest",
        "nacked",
        "nacks_sent",
        "recovered",
        "retry",
    )

    def __init__(
        self,
        send: Callable[[list[int]], None],
        schedule: Callable[[float, Callable[[], None]], object],
        keyframe: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._clock = clock  # the clock of ``seen``'s ``now``
        self._schedule = schedule
        self._keyframe = keyframe
        self.highest: int | None = None  # extended (32-bit and up) newest sequence number
        # extended seq -> [first seen missing, last asked, times asked]
        self._missing: dict[int, list[float]] = {}
        self._timer: object | None = None
        self.retry = INITIAL_RETRY
        self.nacks_sent = self.nacked = self.recovered = self.given_up = 0

    def seen(self, seq: int, now: float) -> None:
        highest = self.highest
        if highest is None:
            self.highest = seq
            return
        delta = (seq - highest) & 0xFFFF
        if delta == 1:
            self.highest = highest + 1
            return
        if delta == 0:
            return  # a duplicate of the newest
        if delta < 0x8000:  # newer, after a gap of delta - 1 packets
            self.highest = highest + delta
            self._gap(highest + 1, highest + delta, now)
            return
        # older: a reordered or retransmitted packet
        ext = highest - (0x10000 - delta)
        entry = self._missing.pop(ext, None)
        if entry is not None:
            self.recovered += 1
            if entry[2] == 1:  # answered to the first request: one round trip
                sample = now - entry[1]
                self.retry = min(MAX_RETRY, max(MIN_RETRY, 0.8 * self.retry + 0.2 * sample * 1.2))

    def _gap(self, first: int, end: int, now: float) -> None:
        """Packets ``first`` .. ``end - 1`` (extended) never arrived."""
        if end - first > MAX_MISSING or len(self._missing) + end - first > MAX_MISSING:
            self.given_up += len(self._missing) + end - first
            self._missing.clear()
            self._keyframe()
            return
        lost = list(range(first, end))
        for ext in lost:
            self._missing[ext] = [now, now, 1.0]
        self._request(lost)
        self._arm()

    def _request(self, lost: list[int]) -> None:
        self.nacks_sent += 1
        self.nacked += len(lost)
        self._send([ext & 0xFFFF for ext in lost])

    def _arm(self) -> None:
        if self._timer is None and self._missing:
            self._timer = self._schedule(self.retry, self._due)

    def _due(self) -> None:
        """Ask again for what is still missing and due; forget what is too old."""
        self._timer = None
        now = self._clock()
        newest = self.highest or 0
        again: list[int] = []
        for ext, entry in list(self._missing.items()):
            first, asked, tries = entry
            if now - asked < self.retry * 0.9:
                continue  # asked within the last round trip
            if now - first > GIVE_UP or tries >= MAX_TRIES or newest - ext > MAX_BEHIND:
                del self._missing[ext]
                self.given_up += 1
            else:
                entry[1], entry[2] = now, tries + 1
                again.append(ext)
        if again:
            self._request(again)
        self._arm()

    @property
    def missing(self) -> int:
        return len(self._missing)

    def close(self) -> None:
        self._missing.clear()
        cancel = getattr(self._timer, "cancel", None)
        if cancel is not None:
            cancel()
        self._timer = None
