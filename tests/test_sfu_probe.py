"""Probes (signaling/sfu/downlink.py, "Probes"; allocation._probe_first): above the rate a
link is known to carry, a camera's step up waits until duplicates of the video sent have shown
the link carries more, 15 % over the ceiling at a time; a probe that fails leaves the picture
where it was. Below the ceiling, or before any congestion, nothing is held back."""

from __future__ import annotations

from signaling.sfu.allocation import allocate
from signaling.sfu.downlink import Downlink
from signaling.sfu.probe import PROBE_REPORT_S, PROBE_S, PROBE_STEP
from tests.test_sfu_simulcast import Audio, Link, room_of, rtp

L, M = 2, 1


def narrow_room() -> tuple[Downlink, list]:
    """Three cameras on ``l`` (100 kb/s each, nominal) over a link that carried ~480 kb/s."""
    room = room_of(3)
    outlets = [o for _, o in room]
    down = Downlink()
    down.update(0.0, 0)
    down.starting = False
    down.ceiling, down.ceiling_until = 480_000.0, 0.0
    down.estimate = 460_000.0
    audio = [Audio(40_000) for _ in range(3)]
    for o in outlets:
        o.holder.link = Link()
    allocate(down, audio, outlets)
    assert [o.target for o in outlets] == [L, L, L]
    return down, outlets


def second(down: Downlink, at: float) -> None:
    """An update with clean reports (nothing lost, no queue)."""
    down.report(1, 0, int(at * 100))
    down.update(at, int(at * 60_000))


def probing(estimate: float) -> tuple[Downlink, list, list]:
    """The narrow room over a 150 ms path, a probe started for the step ``estimate`` allows."""
    down, outlets = narrow_room()
    audio = [Audio(40_000) for _ in range(3)]
    down.report(1, 0, 0)
    down.round_trip(0.150)
    second(down, 1.0)  # the path: 150 ms
    down.estimate = estimate
    allocate(down, audio, outlets)
    assert down.probing
    return down, outlets, audio


def test_a_step_over_the_ceiling_waits_for_a_probe_of_duplicates() -> None:
    down, outlets = narrow_room()
    audio = [Audio(40_000) for _ in range(3)]
    down.report(1, 0, 0)
    second(down, 1.0)
    down.estimate = 2_000_000.0  # the estimate would give the first camera m at once
    allocate(down, audio, outlets)
    assert [o.target for o in outlets] == [L, L, L]  # held back
    assert down.probe.count == 1 and down.probing
    assert down.probe.bps <= 480_000 * PROBE_STEP - 300_000 * 1.0  # 15 % over at most
    assert all(o.probe_share > 0 for o in outlets)
    # duplicates go out with the packets sent
    o = outlets[0]
    link = o.holder.link
    for seq in range(1, 40):
        payload = memoryview(rtp(seq, seq, key=seq == 1)[12:])
        o.send_layer(L, 0x80, 0x80 | 96, payload, seq, seq * 3000, seq == 1, 0.0)
    seqs = [s[0] for s in link.sent]
    assert len(seqs) > 39 and len(set(seqs)) == 39  # copies of packets sent, nothing new


def test_probes_that_pass_raise_the_ceiling_until_the_step_fits() -> None:
    down, outlets = narrow_room()
    audio = [Audio(40_000) for _ in range(3)]
    down.report(1, 0, 0)
    at = 1.0
    second(down, at)
    ceilings = []
    sent = 60_000  # bytes on the link so far
    for _ in range(12):
        down.estimate = 720_000.0  # room for one camera's m
        allocate(down, audio, outlets)
        if outlets[0].target == M:
            break
        # the probe's rate goes on the link for its length, and nothing falls: it passed
        rate = down.probe.rate
        for _step in range(int(PROBE_S + PROBE_REPORT_S)):
            at += 1.0
            sent += int(rate / 8)
            down.report(1, 0, int(at * 100))
            down.update(at, sent)
        ceilings.append(down.ceiling)
    assert outlets[0].target == M
    assert down.probe.passed >= 2
    # each probe went at most 15 % over the last ceiling
    for before, after in zip([480_000.0, *ceilings], ceilings, strict=False):
        assert after <= before * PROBE_STEP + 1


def test_a_probe_that_fails_leaves_the_picture_where_it_was() -> None:
    down, outlets, audio = probing(2_000_000.0)
    # the line's queue grows under the probe, past the mark twice: the estimate falls
    for at, rtt in ((2.0, 0.35), (3.0, 0.45)):
        down.round_trip(rtt)
        second(down, at)
    # The probe failed, not the link: what got through reads low by the duplicates, and the
    # estimate goes back just under the ceiling, which stands; no camera is paused for it.
    assert down.probe.passed == 0 and down.ceiling == 480_000 and not down.probe.bps
    assert down.estimate >= 0.95 * 480_000 - 1
    allocate(down, audio, outlets)
    assert [o.target for o in outlets] == [L, L, L]


def test_a_probe_proves_only_what_it_sent() -> None:
    """The duplicates fell short of the probe's rate (few packets to copy, or the
    allocation's costs over what is really sent): the ceiling rises to what went out."""
    down, outlets, audio = probing(720_000.0)
    assert down.probe.rate > 480_000
    for at in (2.0, 3.0, 4.0, 5.0, 6.0):
        down.report(1, 0, int(at * 100))
        down.update(at, int(at * 60_000))  # 480 kb/s on the link throughout
    assert down.probe.passed == 1 and down.ceiling == 480_000
    allocate(down, audio, outlets)
    assert outlets[0].target == L


def test_a_probe_that_only_queued_does_not_pass() -> None:
    """15 % over a full line fills its queue slowly: no fall, but the round trip says so."""
    down, outlets, _audio = probing(720_000.0)
    for at, rtt in ((2.0, 0.16), (3.0, 0.27), (4.0, 0.2), (5.0, 0.16)):
        down.round_trip(rtt)
        second(down, at)
    assert down.probe.count == 1 and down.probe.passed == 0 and down.ceiling == 480_000
    assert outlets[0].target == L


def test_with_no_congestion_seen_steps_are_not_held_back() -> None:
    room = room_of(3)
    outlets = [o for _, o in room]
    down = Downlink()
    down.estimate = 20_000_000.0
    allocate(down, [Audio(40_000)] * 3, outlets)
    assert [o.target for o in outlets] == [0, 0, 0] and down.probe.count == 0


def test_cameras_all_paused_resume_without_waiting_for_a_probe() -> None:
    """A ceiling measured while every camera was paused is what the audio took: there is no
    video to copy for a probe, so the lowest layer comes back as the estimate allows."""
    down, outlets = narrow_room()
    audio = [Audio(40_000) for _ in range(3)]
    down.ceiling, down.estimate = 150_000.0, 150_000.0
    allocate(down, audio, outlets)
    assert [o.target for o in outlets] == [None, None, None]  # nothing fits: paused
    down.estimate = 400_000.0  # grown again after the hold
    for at in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0):
        down.now = at
        allocate(down, audio, outlets)
    assert L in [o.target for o in outlets]
