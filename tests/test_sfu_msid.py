"""a=msid in the SFU's offers after slots go idle and are reused.

Chrome refuses a whole offer in which one msid (stream id + track id) appears on two m-lines
("Duplicate a=msid lines detected"). That happened when a subscriber's slot went inactive
(its publisher left or moved to a caucus) but kept naming the stream it last carried, and the
stream then came back on another m-line. These tests replay such moves with in-process aiortc
peers (aiortc itself does not check msid) and inspect every offer the subscriber got.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from signaling.sfu import Sfu
from tests.sfu_peers import Client, clip_tracks
from tests.waiting import wait_for


def sections(sdp: str) -> list[tuple[str, str | None, tuple[str, ...] | None]]:
    """(direction, mid, msid fields) per m-line; msid also from a=ssrc:<n> msid: lines."""
    out = []
    for section in re.split(r"\r?\n(?=m=)", sdp)[1:]:
        direction = re.search(r"^a=(sendrecv|sendonly|recvonly|inactive)\r?$", section, re.M)
        mid = re.search(r"^a=mid:(\S+)", section, re.M)
        msids = re.findall(r"^a=(?:ssrc:\d+ )?msid:(.*?)\r?$", section, re.M)
        assert len(set(msids)) <= 1, f"m-line names two msids: {msids}"
        out.append(
            (
                direction.group(1) if direction else "sendrecv",
                mid.group(1) if mid else None,
                tuple(msids[0].split()) if msids else None,
            )
        )
    return out


def msid_problems(offer: dict[str, Any], live_streams: set[str]) -> list[str]:
    """Everything in one offer that a browser would refuse or misread."""
    problems = []
    seen_msid: dict[tuple[str, ...], str | None] = {}
    seen_track: dict[str, str | None] = {}
    for direction, mid, msid in sections(offer["sdp"]):
        if msid is None:
            continue
        if msid in seen_msid:
            problems.append(f"msid {' '.join(msid)} on mid {seen_msid[msid]} and mid {mid}")
        seen_msid[msid] = mid
        track_id = msid[-1]
        if track_id in seen_track:
            problems.append(f"track id {track_id} on mid {seen_track[track_id]} and mid {mid}")
        seen_track[track_id] = mid
        if direction == "inactive" and msid[0] in live_streams:
            problems.append(f"inactive mid {mid} still names stream {msid[0]}")
    return problems


async def settled(sfu: Sfu, *clients: Client) -> None:
    """Wait until no offer is outstanding or queued for any of ``clients``."""
    peers = [sfu._peers[c.id] for c in clients]  # white-box: negotiation state

    def no_offer_pending() -> bool:
        return all(not p.negotiating and not p.dirty for p in peers) and not sfu._work

    await wait_for(no_offer_pending)


@pytest.mark.parametrize("alice_goes", ["moves", "leaves"])
async def test_idle_slot_never_repeats_a_stream(sfu: Sfu, alice_goes: str) -> None:
    alice, bob = Client(sfu, "alice", clip_tracks()), Client(sfu, "bob", clip_tracks())
    sam = Client(sfu, "sam")
    streams = {"alice", "alice#screen", "bob", "bob#screen"}
    try:
        for client in (alice, bob, sam):
            await client.join()
            await sfu.set_room(client.id, "main")

        def sam_sees_both() -> bool:
            return sam.count_of("alice", "camera") > 5 and sam.count_of("bob", "camera") > 5

        await wait_for(sam_sees_both)
        first_mids = {p: sam.mids_of(p, "camera") for p in ("alice", "bob")}
        assert first_mids["alice"] < first_mids["bob"]  # alice holds the lower slots

        # Bob steps out to a caucus: his slots at sam go idle while his stream lives on.
        await sfu.set_room("bob", "caucus")
        await settled(sfu, sam)
        # Alice goes too: her (lower) slots are free and reused first when bob returns...
        if alice_goes == "moves":
            await sfu.set_room("alice", "caucus2")
        else:
            await sfu.remove_peer("alice")
        await settled(sfu, sam)
        await sfu.set_room("bob", "main")
        await settled(sfu, sam)

        # ...so bob's stream is on alice's old m-lines now, beside his own idle ones.
        assert sam.tracks and all(info["peer"] == "bob" for info in sam.tracks.values())
        assert sam.mids_of("bob", "camera") == sorted(first_mids["alice"] + first_mids["bob"])
        problems = [
            f"offer {n}: {p}"
            for n, offer in enumerate(sam.offers)
            for p in msid_problems(offer, streams)
        ]
        assert not problems, "\n".join(problems)

        def sam_sees_bob_again() -> bool:
            runs = sam.runs_of("bob", "camera")
            return len(runs) >= 2 and len(runs[-1]) > 5

        await wait_for(sam_sees_bob_again)
    finally:
        for c in (alice, bob, sam):
            await c.close()
