"""Memory a departed peer used goes back to the OS: one malloc_trim shortly after departures,
however many peers left (signaling/sfu/trim.py)."""

from __future__ import annotations

import asyncio
import gc

from signaling.sfu import Sfu
from signaling.sfu.trim import Trimmer, freeze_long_lived
from tests.sfu_peers import Client, clip_tracks
from tests.waiting import wait_for


async def test_departures_coalesce_into_one_trim() -> None:
    trimmer = Trimmer(delay=0.05)
    for _ in range(5):
        trimmer.soon()
    await asyncio.sleep(0.2)
    assert trimmer.trims == 1
    trimmer.soon()  # a later departure gets its own
    await asyncio.sleep(0.2)
    assert trimmer.trims == 2


async def test_a_peer_leaving_the_sfu_trims_once_and_closing_does_not() -> None:
    sfu = Sfu(ice_servers=[])
    sfu.trimmer.delay = 0.05
    try:
        alice, bob = Client(sfu, "alice", clip_tracks()), Client(sfu, "bob")
        for c in (alice, bob):
            await c.join()
            await sfu.set_room(c.id, "main")
        await sfu.remove_peer("bob")
        await bob.close()

        def trimmed() -> bool:
            return sfu.trimmer.trims == 1

        await wait_for(trimmed)
        await alice.close()
    finally:
        await sfu.close()
    await asyncio.sleep(0.2)
    assert sfu.trimmer.trims == 1  # shutting down is not a departure worth a trim


async def test_the_trim_collects_what_departed_peers_left_in_cycles() -> None:
    # A closed peer connection's objects point at each other: only the cyclic collector
    # frees them, and the trim must run it before returning pages to the OS.
    import gc
    import weakref

    class Node:
        other: Node | None = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    gc.disable()  # no automatic collection: only the trim's may free them
    try:
        assert gone() is not None
        Trimmer(delay=0).trim()
        assert gone() is None
    finally:
        gc.enable()


def test_freezing_takes_start_up_objects_out_of_the_collectors_view() -> None:
    gc.unfreeze()
    try:
        freeze_long_lived()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # the rest of the suite collects as it did
