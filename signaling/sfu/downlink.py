"""A subscriber's downlink: how much its link carries, and whether its audio goes twice.
What video fits in it is ``allocation.allocate``'s choice, from this estimate.

**The estimate** is of what goes on the link: payload, the audio's copies, and each packet's
RTP header and SRTP tag. It follows the loss controller of Google Congestion Control
(draft-ietf-rmcat-gcc, section 6), from the receiver reports the subscriber sends for every
stream the SFU forwards it: the fraction lost over each second (weighted by the packets each
stream carried), less what the publisher's uplink had already lost (the forwarded stream has
the same gaps: they are not this link's doing). Over 10 % lost the link is congested; under
5 % the estimate grows (a line with a few per cent of random loss is not congested); in
between it holds. A link starts at ``INITIAL_BPS`` and grows half as much again each second
until its first congestion (a slow start: a weak line never gets every camera's 720p at
once, a good one has them within a few seconds), then 8 % a second; but never past half as
much again as what arrived plus one 720p layer (``APP_LIMITED_HEADROOM_BPS``): a link whose
tiles want little has not shown it carries more.

**Its delay signal** is the round trip of those same reports (the SR each answers, by LSR
and DLSR, RFC 3550 6.4.1; every SR sent is remembered, as a queued link answers old ones):
its lowest over ``BASE_RTT_WINDOW_S`` is the path, anything above it a queue (on a path under
``DELAY_MIN_PATH_S``, a loopback or a LAN, the round trip follows the machine's load, and
only loss speaks). A queue over
``QUEUE_GROW_S`` stops the growth; over ``QUEUE_HIGH_S`` in two reports running the link is
congested as by loss (one long round trip alone is as often a busy machine reading its
socket late). This keeps a probe from filling a slow line's buffer until it overflows and
drops audio with the video: there, loss comes last, from a queue already a second long.

**On congestion** the estimate falls under what arrived (``arrivals``: the reports' highest
sequence numbers and cumulative loss, per stream, at the stream's mean packet size; without those,
what was sent when the reported packets left, less the loss): to it on loss, to
``DRAIN_SHARE`` of it on a queue, so the queue drains. What arrived becomes the ``ceiling``,
held for ``HOLD_S``. A fall while the link still carries ``PROBE_FAILED_SHARE`` of the last
ceiling is a probe above it that failed: the estimate goes back under the ceiling, the next
hold is twice as long and the next probe grows only ``PROBE_GROWTH`` a second (each probe
costs a keyframe and, where a camera must pause again, a freeze). After a fall the reports
of the next ``SETTLE_S``, and up to ``SETTLE_MAX_S`` while what is sent is under the
ceiling, still describe the backlog of before it: they do not bring it down again.

**Probes.** Above the ceiling, what the link carries is a guess until something is sent at
that rate; stepping a camera up to find out put a keyframe and seconds of queue in front of
everything (the audio too) each time the guess was wrong, and on a narrow line the picture
left its layer every 10-40 s. So a step up that would send more than the ceiling waits for a
probe (``probe_for``, ``probe.Probe``): duplicates of the video being sent, for ``PROBE_S``,
up to ``PROBE_STEP`` over the ceiling at most (a receiver drops a duplicate, RFC 3550 A.3: the
picture does not change). If the estimate has not fallen ``PROBE_REPORT_S`` after it, the
link carried that rate: it is the new ceiling, and the next probe goes that much further,
until the step fits. A probe that fails is a probe above the ceiling that failed (above).
With no ceiling yet (no congestion seen) steps are not held back: the slow start is the probe.

The subscriber's REMB is kept and shown in the stats (``remb_kbps``) but does not move the
estimate: the browsers' receive-side estimator wants the abs-send-time header extension,
which forwarded packets do not carry (their extensions belong to the publisher's
connection), it trails the rate it is sent (after a pause it reads low), and on a loaded
machine it falls on jitter alone: taken as the estimate, it paused cameras on a loopback
link in the three-browser test. Why not transport-wide congestion control: aiortc
implements neither its header extension on what it sends nor its feedback, so the browsers
give it none.

**Audio on a lossy link** is sent twice (``Outlet.copy_after``) while the link loses over
``PROTECT_ON`` of its packets (as its video reports it: the audio's own reports, with the
copies, read near nothing), and once again after ``PROTECT_CLEAR_S`` under ``PROTECT_OFF``.
The copies count against the video's budget: a picture may pause so that speech is whole.
A stream whose publisher adds Opus in-band FEC is not copied: the link's loss (``link_loss``)
goes up to every publisher in the SFU's receiver reports, which is what makes a browser's
encoder add it (``opus.py``), and the FEC costs a few kb/s where a copy costs the stream.
"""

from __future__ import annotations

from collections.abc import Callable

from signaling.sfu.arrivals import Arrivals
from signaling.sfu.probe import Probe
from signaling.sfu.simulcast import LAYER_HEIGHT

# A link starts here: a middle layer and two lowest; the slow start takes a good link to
# every camera's top layer within a few seconds.
INITIAL_BPS = 800_000
MAX_BPS = 50_000_000
MIN_BPS = 150_000  # the floor: audio and one lowest layer
HIGH_LOSS, LOW_LOSS = 0.10, 0.05
GROWTH = 1.08
STARTUP_GROWTH = 1.5  # until the link's first congestion
PROBE_GROWTH = 1.03  # above the rate the link last carried (``ceiling``)
# Queueing delay over the path's own round trip: growth stops above the first, the link is
# congested above the second (a conversation's own limit is not far above).
QUEUE_GROW_S, QUEUE_HIGH_S = 0.08, 0.15
BASE_RTT_WINDOW_S = 30.0
DELAY_MIN_PATH_S = 0.02  # a path shorter than this gives no delay signal (``_queue``)
DRAIN_SHARE = 0.85  # congested by delay: send this share of what got through, and the queue drains
HOLD_S = 10.0
# A fall while the link still carries 90 % of its last ceiling is a probe above it that
# failed: the estimate goes back to the ceiling, and the next probe waits twice as long.
PROBE_FAILED_SHARE, HOLD_MAX_S = 0.9, 80.0
PROBE_BACK_SHARE = 0.95  # a little under it: the probe's queue drains
# After a fall, reports still describe packets sent before it (the link's queue and the round
# trip): they do not bring it down again for this long.
SETTLE_S = 3.0
SETTLE_MAX_S = 8.0  # longer while what is sent is under what got through (``_settling``)
# The rates sent, kept this long: the reports of a second describe packets sent a round
# trip, a queue and half a report interval before (``_sent_then``).
SENT_HISTORY_S = 5.0
# Audio sent twice above this loss (3 seconds' mean), once again under the second for longer.
PROTECT_ON, PROTECT_OFF, PROTECT_CLEAR_S = 0.015, 0.005, 10.0
# Growth stops this far above what arrived (``delivered_bps``): half as much again, and room
# for the biggest step the allocation takes (one camera from 360p to 720p, ~1.2 Mb/s).
APP_LIMITED_SHARE, APP_LIMITED_HEADROOM_BPS = 1.5, 1_500_000
# Each packet's RTP header and SRTP tag: on the link, and in the estimate.
RTP_OVERHEAD = 22


class Downlink:
    """One subscriber's estimate, view and mode, and what it was last told is paused."""

    def __init__(self, on_paused: Callable[[list[str]], None] | None = None) -> None:
        self.estimate = float(INITIAL_BPS)
        self.ceiling: float | None = None
        self.ceiling_until = 0.0
        self.failed_probes = 0  # in a row: each doubles the hold (``PROBE_FAILED_SHARE``)
        self.fell_at = -SETTLE_S
        self._sent: list[tuple[float, float]] = []  # (when, rate sent over the second before)
        self.remb_bps: float | None = None
        self.mode = "full"
        self.heights: dict[str, int] = {}  # publisher peer id -> tile height in device px
        self.paused: frozenset[str] = frozenset()  # publisher peer ids whose camera is paused
        self.on_paused = on_paused
        self._reports: list[tuple[float, int, bool]] = []  # (lost, packets, video?)
        self.protect_audio = False  # audio sent twice (module docstring)
        self.link_loss = 0.0  # the link's loss over the last 3 s, as the protection reads it
        self._link_loss: list[tuple[float, float]] = []  # (when, loss), seconds with video
        self._counted: dict[int, int] = {}  # outlet SSRC -> packets_out at its last report
        self._sent_mark: tuple[float, int] | None = None
        self.last_loss: float | None = None
        self.starting = True  # the slow start, until the first congestion
        self._rtts: list[float] = []  # round trips reported since the last update, s
        self._base: list[tuple[float, float]] = []  # (when, lowest round trip that second)
        self.queue_s: float | None = None  # the last second's queueing delay
        self._queue_before: float | None = None
        self._over = 0  # reports running with the queue over ``QUEUE_HIGH_S``
        self.arrivals = Arrivals()  # what reached the subscriber, from its reports
        self.delivered_bps: float | None = None  # what the link carried over the last second
        self.now = 0.0  # the last update's time
        self.probe = Probe()

    def may_send(self, bps: float) -> bool:
        """Whether ``bps`` (audio and video, on the link) may be sent without a probe first:
        with no ceiling known, or not above it (module docstring, "Probes")."""
        return self.ceiling is None or bps <= self.ceiling

    def probe_for(self, sending: float, wanted: float) -> None:
        """The allocation would send ``wanted`` instead of ``sending`` but may not yet: probe
        for it (``Probe.begin``)."""
        self.probe.begin(self.now, sending, wanted, self.ceiling)

    @property
    def probing(self) -> bool:
        return self.probe.running(self.now)

    def report(
        self,
        ssrc: int,
        fraction_lost: int,
        packets_out: int,
        upstream: float = 0.0,
        video: bool = True,
    ) -> None:
        """A receiver report block for one forwarded stream (``fraction_lost`` of 256).
        ``upstream`` is the part the publisher's uplink lost: the forwarded stream has the
        same gaps, and they say nothing of this subscriber's link."""
        before = self._counted.get(ssrc)
        self._counted[ssrc] = packets_out
        if before is not None and packets_out > before:
            own = max(0.0, fraction_lost / 256 - upstream)
            self._reports.append((own, packets_out - before, video))

    def round_trip(self, seconds: float) -> None:
        """A round trip measured from a receiver report (its LSR and DLSR)."""
        if 0.0 <= seconds < 10.0:
            self._rtts.append(seconds)

    def _queue(self, now: float) -> float | None:
        """The queueing delay of the second just past: its median round trip over the
        path's lowest of the last ``BASE_RTT_WINDOW_S`` (None with nothing measured)."""
        rtts, self._rtts = sorted(self._rtts), []
        self._queue_before = self.queue_s
        if not rtts:
            self.queue_s = None
            return None
        self._base = [(t, r) for t, r in self._base if now - t <= BASE_RTT_WINDOW_S]
        self._base.append((now, rtts[0]))
        base = min(r for _, r in self._base)
        self.queue_s = max(0.0, rtts[len(rtts) // 2] - base)
        if base < DELAY_MIN_PATH_S:
            # The machine's own loopback or a LAN: its round trips vary with how busy the
            # machine is, not with a queue (under load the browser tests' loopback links
            # read "queues" of hundreds of ms, and cameras paused). Loss alone speaks there.
            return None
        return self.queue_s

    def _settling(self, now: float, sent_bps: float) -> bool:
        """Whether the reports may still describe the backlog of before the last fall: for
        ``SETTLE_S`` after it, and up to ``SETTLE_MAX_S`` while what is sent now is under
        what got through then (the queue can only be draining)."""
        since = now - self.fell_at
        if since < SETTLE_S:
            return True
        return since < SETTLE_MAX_S and self.ceiling is not None and sent_bps < self.ceiling

    def _sent_then(self, now: float, queue: float | None) -> float:
        """The rate sent when the packets this second's reports describe left: a round trip
        and the queue ago, and half a report interval (a second, unknown queue)."""
        base = min((r for _, r in self._base), default=0.0)
        ago = base + (queue if queue is not None else 1.0) + 0.5
        # the update whose second covers that moment: the first at or after it (a second
        # that sent nothing says nothing: the outlets started after it)
        for at, rate in self._sent:
            if at >= now - ago and rate > 0:
                return rate
        return self._sent[-1][1] if self._sent else 0.0

    def update(self, now: float, bytes_out: int) -> None:
        """Once a second: the loss and the queue reported since the last update move the
        estimate."""
        self.now = now
        sent_bps = 0.0
        if self._sent_mark is not None:
            then, counted = self._sent_mark
            # outlets come and go: a smaller sum than before is a restart, not a rate
            sent_bps = max(0, bytes_out - counted) * 8 / max(now - then, 1e-3)
        self._sent_mark = (now, bytes_out)
        self._sent = [(t, r) for t, r in self._sent if now - t <= SENT_HISTORY_S]
        self._sent.append((now, sent_bps))
        rate = self.arrivals.rate(now)
        if rate is not None:
            self.delivered_bps = (
                rate if self.delivered_bps is None else (0.5 * self.delivered_bps + 0.5 * rate)
            )
        reports, self._reports = self._reports, []
        queue = self._queue(now)
        carried = self.probe.judge(
            now, queue is not None and queue >= QUEUE_GROW_S, sent_bps, self.fell_at
        )
        if carried is not None and self.ceiling is not None:
            self.ceiling = max(self.ceiling, carried)  # the probe passed
        total = sum(n for _, n, _v in reports)
        if not total:
            return
        loss = sum(f * n for f, n, _v in reports) / total
        self.last_loss = loss
        self._protect(now, reports)
        # A long queue that is draining (shorter than a second ago) is a fall already made.
        before = self._queue_before
        draining = before is not None and queue is not None and queue < before - 0.05
        lossy = loss > HIGH_LOSS
        # A queue over the mark for two reports running: one long round trip alone is as
        # often a busy machine (a stalled process reads its socket late) as a slow line.
        over = queue is not None and queue > QUEUE_HIGH_S and not draining
        self._over = self._over + 1 if over else 0
        queued = self._over >= 2
        if (lossy or queued) and self._settling(now, sent_bps):
            return  # the backlog of before the fall, still being reported
        if lossy or queued:
            # What reached the subscriber (its reports say); without those, what got
            # through of what was sent when the reported packets left.
            sent_then = self._sent_then(now, queue)
            through = min(self.delivered_bps or sent_then, sent_then or MAX_BPS) * (
                1 if self.delivered_bps else 1 - loss
            )
            if lossy:
                lowered = min(self.estimate * (1 - 0.5 * loss), through or self.estimate)
            else:  # under what got through, or the queue never drains
                lowered = min(self.estimate, DRAIN_SHARE * through or self.estimate)
            known = self.ceiling
            # Duplicates do not count as arrived: under a probe, what got through reads low
            # by the probe's rate, and it is the probe that failed, not the link.
            duplicates = self.probe.to_blame(now)
            if known is not None and (duplicates or through >= PROBE_FAILED_SHARE * known):
                # A probe above a rate the link still carries failed: back to that rate,
                # which drains the little the probe queued, and probe again later each time.
                lowered = max(lowered, min(self.estimate, PROBE_BACK_SHARE * known))
                self.failed_probes += 1
                if duplicates:
                    through = max(through, known)
            else:
                self.failed_probes = 0
            self.probe.stop(now)
            self.estimate = max(MIN_BPS, lowered)
            hold = min(HOLD_S * 2**self.failed_probes, HOLD_MAX_S)
            self.ceiling, self.ceiling_until = max(through, MIN_BPS), now + hold
            self.fell_at = now
            self.starting = False
        elif loss < LOW_LOSS and (queue or 0.0) < QUEUE_GROW_S:
            growth = STARTUP_GROWTH if self.starting else GROWTH
            if self.failed_probes and self.ceiling is not None and self.estimate >= self.ceiling:
                growth = PROBE_GROWTH  # above what the link carried when a probe failed: gently
            grown = min(self.estimate * growth, MAX_BPS)
            if self.delivered_bps is not None:
                # What the link has not been asked to carry it has not shown it can: a link
                # that only ever carries a small tile's layer does not claim 50 Mb/s
                # (GCC caps its estimate at 1.5 times what arrived the same way), but keeps
                # room to step a camera up, which is how it learns more (``allocate``).
                room = APP_LIMITED_SHARE * self.delivered_bps + APP_LIMITED_HEADROOM_BPS
                grown = max(self.estimate, min(grown, room))
            self.estimate = grown
            if self.ceiling is not None and now < self.ceiling_until:
                self.estimate = min(self.estimate, self.ceiling)

    def _protect(self, now: float, reports: list[tuple[float, int, bool]]) -> None:
        """Whether audio goes twice: by the loss the video sees (with no video reported, the
        audio's own, unless its copies already hide it: then as it was)."""
        video = [(f, n) for f, n, v in reports if v]
        if not video and self.protect_audio:
            return
        counted = video or [(f, n) for f, n, _v in reports]
        total = sum(n for _, n in counted)
        self._link_loss.append((now, sum(f * n for f, n in counted) / total))
        self._link_loss = [(t, x) for t, x in self._link_loss if now - t <= PROTECT_CLEAR_S]
        recent = [x for t, x in self._link_loss if now - t < 3.0]
        self.link_loss = sum(recent) / len(recent)
        if not self.protect_audio and self.link_loss > PROTECT_ON:
            self.protect_audio = True
        elif (
            self.protect_audio
            and now - self._link_loss[0][0] >= PROTECT_CLEAR_S - 1.0
            and max(x for _, x in self._link_loss) < PROTECT_OFF
        ):
            self.protect_audio = False

    def best_for_tile(self, publisher: str) -> int:
        """The best layer worth sending to the publisher's tile: the smallest that covers it."""
        height = self.heights.get(publisher)
        if height is None:
            return 0
        for index in range(len(LAYER_HEIGHT) - 1, -1, -1):
            if LAYER_HEIGHT[index] >= height:
                return index
        return 0
