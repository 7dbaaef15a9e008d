"""A screen share that stops must leave everyone's screen at once, and stay gone.

Found in real Chromium: after ``replaceTrack(null)`` the browser goes on sending padding-only
RTP on the screen's SSRC (bandwidth probing, ~100-300 kbps), so "no packets for 5 s" never
came and the others kept a frozen screen tile. Now the participant's own ``media`` message
(``screen: false``) stops the share at once, and padding carries no media: it neither keeps a
stopped share alive nor starts one."""

from __future__ import annotations

import struct

from signaling.sfu import Sfu
from signaling.sfu.inbound import InboundTrack
from tests.sfu_peers import Client, ClipTrack, clip_tracks, small_clips
from tests.waiting import wait_for


def rtp(seq: int, payload: bytes, padding: int = 0) -> bytes:
    """An RTP packet (PT 96, SSRC 1) with ``padding`` bytes of RTP padding after the payload."""
    b0 = 0x80 | (0x20 if padding else 0)
    pad = b"\0" * (padding - 1) + bytes([padding]) if padding else b""
    return struct.pack("!BBHII", b0, 96, seq, seq * 3000, 1) + payload + pad


def screen_track(started: list[InboundTrack]) -> InboundTrack:
    return InboundTrack(
        "alice", "screen", "video", 1, send_pli=lambda ssrc: None, on_first_packet=started.append
    )


def test_padding_only_packets_neither_start_nor_keep_alive_a_screen() -> None:
    started: list[InboundTrack] = []
    track = screen_track(started)
    for seq in range(10):
        track.on_rtp(rtp(seq, b"", padding=200))
    assert not track.live and not started and track.last_packet_at == 0.0

    track.on_rtp(rtp(10, b"\x10\x00\x00\x9d\x01\x2a" + b"\0" * 20))  # media: goes live
    assert track.live and started == [track]
    seen = track.last_packet_at
    for seq in range(11, 40):
        track.on_rtp(rtp(seq, b"", padding=255))
    assert track.last_packet_at == seen  # probing is not activity
    track.on_rtp(rtp(40, b"\x00" * 10, padding=4))  # media with padding still is
    assert track.last_packet_at > seen


def test_a_held_screen_is_not_restarted_by_late_media() -> None:
    started: list[InboundTrack] = []
    track = screen_track(started)
    track.held = True  # the participant said it stopped sharing
    track.on_rtp(rtp(1, b"\x10" + b"\0" * 30))
    assert not track.live and not started
    track.held = False  # sharing again
    track.on_rtp(rtp(2, b"\x10" + b"\0" * 30))
    assert track.live and started == [track]


async def test_saying_the_share_stopped_removes_it_from_everyone_at_once(sfu: Sfu) -> None:
    alice, bob = Client(sfu, "alice", clip_tracks()), Client(sfu, "bob")
    try:
        for client in (alice, bob):
            await client.join()
            await sfu.set_room(client.id, "main")
        screen = ClipTrack(small_clips()["video"])
        alice.pc.addTrack(screen)
        sfu.set_screen("alice", True)
        await sfu.renegotiate("alice")

        def screen_flows() -> bool:
            return bob.count_of("alice", "screen") > 10

        await wait_for(screen_flows)
        offers = len(bob.offers)

        sfu.set_screen("alice", False)
        assert sfu.stats()["alice"]["published"]["screen"]["subscribers"] == 0  # at once
        assert sfu.stats()["alice"]["published"]["screen"]["live"] is False

        def offered_without_screen() -> bool:
            return len(bob.offers) > offers and {"peer": "alice", "label": "screen"} not in (
                bob.offers[-1]["tracks"].values()
            )

        await wait_for(offered_without_screen)
        count = bob.count_of("alice", "screen")
        # The browser's encoder may still send (here the clip goes on): nothing reaches bob.
        sent = screen.sent

        def clip_went_on() -> bool:
            return screen.sent > sent + 30

        await wait_for(clip_went_on)
        assert bob.count_of("alice", "screen") == count

        sfu.set_screen("alice", True)  # sharing again: the next media restarts it

        def flows_again() -> bool:
            return bob.count_of("alice", "screen") > count + 10

        await wait_for(flows_again)
    finally:
        for c in (alice, bob):
            await c.close()
