"""Rooms: media flows only inside a room, stops at once on a move, and a subscriber that
comes back starts at a keyframe. Renegotiation when a peer joins and when a screen share
starts, one offer at a time per peer."""

from __future__ import annotations

from typing import Any

from signaling.sfu import Sfu
from signaling.sfu.media import vp8_keyframe_start
from tests.media_clips import clip_frames
from tests.sfu_peers import Client, ClipTrack, Received, clip_tracks, small_clips
from tests.waiting import wait_for


def _frames(run: list[Any]) -> list[Any]:
    return Received(packets=run).frames("VP8")


def publisher(sfu: Sfu, peer_id: str) -> Client:
    return Client(sfu, peer_id, clip_tracks())


async def test_rooms_are_isolated_and_return_starts_at_keyframe(sfu: Sfu) -> None:
    alice, carol, bob = publisher(sfu, "alice"), publisher(sfu, "carol"), Client(sfu, "bob")
    try:
        for client, room in ((alice, "main"), (bob, "main"), (carol, "caucus")):
            await client.join()
            await sfu.set_room(client.id, room)

        def bob_sees_alice() -> bool:
            return bob.count_of("alice", "camera") >= 20 and bob.count_of("alice", "audio") >= 20

        await wait_for(bob_sees_alice)
        assert bob.count_of("carol", "camera") == 0
        assert alice.count_of("carol", "camera") == 0 and carol.count_of("alice", "camera") == 0

        await sfu.set_room("bob", "caucus")

        def bob_sees_carol() -> bool:
            return bob.count_of("carol", "camera") >= 5

        await wait_for(bob_sees_carol)
        from_alice = bob.count_of("alice", "camera") + bob.count_of("alice", "audio")

        def bob_sees_more_of_carol() -> bool:
            return bob.count_of("carol", "camera") >= 60

        await wait_for(bob_sees_more_of_carol)
        assert bob.count_of("alice", "camera") + bob.count_of("alice", "audio") == from_alice
        assert alice.count_of("carol", "camera") == 0 and carol.count_of("alice", "camera") == 0

        runs_before = len(bob.runs_of("alice", "camera"))
        await sfu.set_room("bob", "main")

        def alice_back() -> bool:
            runs = bob.runs_of("alice", "camera")
            return len(runs) > runs_before and len(runs[-1]) >= 5

        await wait_for(alice_back)
        first = bob.runs_of("alice", "camera")[-1][0]
        assert vp8_keyframe_start(first.payload, 0), "media after the move must open on a keyframe"
        stats = sfu.stats()
        assert stats["alice"]["published"]["camera"]["keyframe_requests"] >= 2
    finally:
        for c in (alice, bob, carol):
            await c.close()


async def test_third_peer_and_screen_share_renegotiate_one_offer_at_a_time(sfu: Sfu) -> None:
    alice, bob = publisher(sfu, "alice"), publisher(sfu, "bob")
    carol = Client(sfu, "carol")
    try:
        for client in (alice, bob):
            await client.join()
            await sfu.set_room(client.id, "main")

        def pair_connected() -> bool:
            return bob.count_of("alice", "camera") > 10 and alice.count_of("bob", "camera") > 10

        await wait_for(pair_connected)
        offers_before = len(alice.offers)
        await carol.join()
        await sfu.set_room("carol", "main")

        def carol_sees_both() -> bool:
            return carol.count_of("alice", "camera") > 10 and carol.count_of("bob", "camera") > 10

        await wait_for(carol_sees_both)
        assert len(alice.offers) > offers_before  # told about carol's (empty) arrival

        # Bob holds his answers: changes queue behind the outstanding offer.
        bob.hold_answers = True
        screen = ClipTrack(small_clips()["video"])
        alice.pc.addTrack(screen)
        await sfu.renegotiate("alice")

        def bob_offered_screen() -> bool:
            return any(
                {"peer": "alice", "label": "screen"} in o["tracks"].values() for o in bob.held
            )

        await wait_for(bob_offered_screen)
        await sfu.renegotiate("bob")  # a second change while one offer is outstanding
        assert len(bob.held) == 1
        await bob.answer(bob.held.pop())

        def next_offer_sent() -> bool:
            return len(bob.held) == 1

        await wait_for(next_offer_sent)
        bob.hold_answers = False
        await bob.answer(bob.held.pop())

        def screen_flows() -> bool:
            return carol.count_of("alice", "screen") > 10 and bob.count_of("alice", "screen") > 10

        await wait_for(screen_flows)
        # The screen's frames rebuild (the assembler emits nothing before a keyframe) and are
        # the clip's own frames. (Whether the very first packet recorded here is the keyframe
        # is checked for room moves above; on a brand-new m-line the aiortc test peer has been
        # seen to miss the first burst under heavy machine load.)
        clip = {data for data, _ in clip_frames(small_clips()["video"])}
        for sub in (bob, carol):
            frames = [f.data for run in sub.runs_of("alice", "screen") for f in _frames(run)]
            assert frames and all(frame in clip for frame in frames)
        assert sfu.stats()["alice"]["published"]["screen"]["subscribers"] == 2
    finally:
        for c in (alice, bob, carol):
            await c.close()
