"""Upstream loss recovery: video packets lost between a publisher and the SFU are asked for
again (RTCP NACK) and reach subscribers and the recorder's frame assembly in their place.

The loss is made in a real aiortc publisher's transport: the first copy of every 20th camera
packet never leaves it (as if the uplink lost it); aiortc's sender answers NACKs from its
history, on the same SSRC (no RTX is negotiated)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from recordings.rtp import REORDER_SECONDS, Reorder, Vp8Assembler
from signaling.sfu import Sfu
from signaling.sfu.aiortc_hook.transceivers import dtls_transport
from signaling.sfu.nack import MAX_RETRY, MAX_TRIES, NackTracker
from tests.media_clips import clip_frames
from tests.sfu_peers import Client, clip_tracks, small_clips
from tests.test_sfu_tap import RecordingTap
from tests.waiting import wait_for

SPAN = 300  # consecutive camera packets that must all arrive


def _drop_every_20th(client: Client) -> set[int]:
    """Lose the first copy of every 20th camera packet the client sends, before SRTP (as a
    network would: the SFU's SRTP session never sees it, so the resent copy is no replay)."""
    dtls = dtls_transport(client.pc)
    video = {s._ssrc for s in client.pc.getSenders() if s.track and s.track.kind == "video"}
    real = dtls._send_rtp
    dropped: set[int] = set()

    async def lossy(data: bytes) -> None:
        seq = int.from_bytes(data[2:4], "big")
        ssrc = int.from_bytes(data[8:12], "big")
        if ssrc in video and seq % 20 == 0 and seq not in dropped:
            dropped.add(seq)
            return
        await real(data)

    dtls._send_rtp = lossy  # type: ignore[method-assign]
    return dropped


def _run_start(seqs: list[int], span: int) -> int | None:
    """The first sequence number from which ``span`` consecutive ones all arrived, or None.

    Any run, not only the one from the first packet: on a starved machine (a CI runner with
    browsers beside it) the event loop can stall past the tracker's ``GIVE_UP``, and then a
    hole is given up on and left to the next keyframe, which is right. Every run of ``SPAN``
    still holds ``SPAN // 20`` packets whose first copy was lost, so a whole one is proof
    that they were asked for again and put in their places."""
    have = set(seqs)
    for s in seqs:
        if (s - 1) & 0xFFFF in have:
            continue  # not the start of a run
        n = 0
        while n < span and (s + n) & 0xFFFF in have:
            n += 1
        if n == span:
            return s
    return None


async def test_lost_uplink_packets_are_nacked_and_fill_their_gaps(sfu: Sfu) -> None:
    tap = RecordingTap()
    sfu.add_tap(tap)
    alice = Client(sfu, "alice", clip_tracks())
    bob = Client(sfu, "bob")
    try:
        await alice.join()
        dropped = _drop_every_20th(alice)
        await bob.join()
        for c in (alice, bob):
            await sfu.set_room(c.id, "main")

        def recorder_saw_a_whole_run() -> bool:
            packets = tap.packets.get("alice:camera", [])
            return _run_start([p.sequence_number for p in packets], SPAN) is not None

        def subscriber_got_a_whole_run() -> bool:
            seqs = [p.sequence_number for p in bob.got("alice", "camera").packets]
            return _run_start(seqs, SPAN) is not None

        await wait_for(recorder_saw_a_whole_run, within=30)
        await wait_for(subscriber_got_a_whole_run, within=30)

        camera = sfu.stats()["alice"]["published"]["camera"]
        assert len(dropped) >= SPAN // 20
        assert camera["nacks_sent"] > 0
        assert camera["recovered"] >= SPAN // 20 - 1
        assert "nacks_sent" not in sfu.stats()["alice"]["published"]["audio"]

        # The recorder's assembly, batched as the recorder does it: every frame of the run
        # is whole although the resent packets came after their neighbours.
        packets = tap.packets["alice:camera"]
        first = _run_start([p.sequence_number for p in packets], SPAN)
        assert first is not None
        in_span = [p for p in packets if (p.sequence_number - first) & 0xFFFF < SPAN]
        start = next(i for i, p in enumerate(in_span) if p.keyframe)
        run = in_span[start:]
        assembler = Vp8Assembler()
        frames = []
        for i in range(0, len(run), 25):
            frames += assembler.take(run[i : i + 25])
        clip = {data for data, _ in clip_frames(small_clips()["video"])}
        assert len(frames) >= 20
        assert all(f.data in clip for f in frames)
        assert assembler.lost_frames == 0

        # The subscriber: every frame from its first keyframe on rebuilds whole.
        got = bob.got("alice", "camera").frames("VP8")
        assert len(got) >= 20
        assert all(f.data in clip for f in got)
    finally:
        await alice.close()
        await bob.close()


def test_nack_tracker_handles_wrap_around_reordering_and_gives_up() -> None:
    sent: list[list[int]] = []
    timers: list[Any] = []
    keyframes: list[bool] = []
    clock = [0.0]
    tracker = NackTracker(
        sent.append,
        lambda delay, cb: timers.append(cb),
        lambda: keyframes.append(True),
        lambda: clock[0],
    )
    for seq in (65532, 65533, 65534):
        tracker.seen(seq, 0.0)
    assert sent == []
    tracker.seen(1, 0.01)  # 65535 and 0 lost across the wrap
    assert sent == [[65535, 0]]
    tracker.seen(3, 0.02)  # 2 lost
    assert sent == [[65535, 0], [2]]
    tracker.seen(0, 0.05)  # a resent packet, late, after the wrap
    tracker.seen(3, 0.06)  # a duplicate of the newest asks for nothing
    assert (tracker.recovered, tracker.missing) == (1, 2)
    assert tracker.highest == 65536 + 3
    assert timers  # a retry is scheduled while something is missing
    for _ in range(8):  # retries come due; each packet is asked for MAX_TRIES times at most
        clock[0] += MAX_RETRY / 2
        due, timers[:] = list(timers), []  # a retry re-arms itself: run only those due now
        for callback in due:
            callback()
    asked = [seq for nack in sent for seq in nack]
    assert asked.count(65535) == MAX_TRIES and asked.count(2) == MAX_TRIES
    assert asked.count(0) == 1  # recovered after the first request
    assert tracker.missing == 0 and tracker.given_up == 2
    tracker.seen(3 + 5000, 2.0)  # a hole too big to ask for: a keyframe instead
    assert keyframes == [True] and tracker.missing == 0


def test_reorder_puts_late_packets_in_place_and_waits_for_a_gap_only_so_long() -> None:
    def pkt(seq: int, at: float) -> SimpleNamespace:
        return SimpleNamespace(sequence_number=seq, arrival=at)

    reorder = Reorder()
    got = reorder.order([pkt(65534, 0.0), pkt(0, 0.01), pkt(1, 0.02)])
    assert [p.sequence_number for p in got] == [65534]
    got = reorder.order([pkt(65535, 0.2), pkt(2, 0.21), pkt(65535, 0.22)])  # + a duplicate
    assert [p.sequence_number for p in got] == [65535, 0, 1, 2]
    assert reorder.late == 1
    got = reorder.order([pkt(4, 0.3), pkt(5, 0.4)])  # 3 never comes
    assert got == []
    got = reorder.order([pkt(6, 0.3 + REORDER_SECONDS + 0.01)])
    assert [p.sequence_number for p in got] == [4, 5, 6]
    assert reorder.order([pkt(3, 2.0)]) == [] and reorder.late == 2  # too late now
