"""The SFU's clock: what happens every ``TICK`` rather than per packet.

Each tick every publisher track may send a deferred keyframe request (``InboundTrack.tick``)
and a screen share silent for ``SCREEN_IDLE`` counts as stopped; every fourth tick each peer
sends its receiver reports (with the REMB bitrate cap) and sender reports, each track
samples its bitrate, and then each peer's downlink chooses its video (``Peer.balance``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

from signaling.sfu.peer import Peer
from signaling.sfu.simulcast import Published

TICK = 0.25  # seconds: keyframe retries; every 4th tick RTCP reports and bitrates
SCREEN_IDLE = 5.0  # seconds without packets before a screen share counts as stopped


async def run(
    peers: Mapping[str, Peer],
    *,
    max_video_kbps: int,
    screen_stopped: Callable[[Peer, Published], None],
) -> None:
    """Tick until cancelled; ``screen_stopped`` hears of each share that went silent."""
    count = 0
    while True:
        await asyncio.sleep(TICK)
        count += 1
        now = time.monotonic()
        for peer in list(peers.values()):
            for track in list(peer.inbound.values()):
                track.tick()
                if (
                    track.label == "screen"
                    and track.live
                    and now - track.last_packet_at > SCREEN_IDLE
                ):
                    screen_stopped(peer, track)
            if count % 4 == 0:
                peer.send_receiver_report(max_video_kbps)
                peer.update_sender_reports()
                for track in peer.inbound.values():
                    track.sample_bitrate(now)
        if count % 4 == 0:
            for peer in list(peers.values()):
                peer.balance(now)  # after every track's bitrate was sampled
