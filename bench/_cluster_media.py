"""The cluster bench's recorded room (``bench/cluster.py``): a host and a party that publish
media, so the recording's gap across a drain and a kill can be measured.

They are the soak's lean aiortc peers (``_soak_peers.RoomPeer``: real ICE, DTLS and SRTP, a
pre-encoded VP8 clip and Opus replayed as they are). When a seat's socket closes (sent away
by a draining node, or cut by a killed one) it does what the page does: a new peer
connection, through a surviving node, with its resume token.

The gap is read from the database once the dead node's cut segments are recovered: per
track cut (a segment ended by ``handover`` or ``crash``), from its end to the start of the
same person's same track on the next node.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from _media_clip import audio_clip, video_clip
from _media_peers import load_clip
from _soak_peers import RoomPeer

CUT_REASONS = ("handover", "crash")


def clip(cache: Path) -> tuple[argparse.Namespace, Any]:
    """A small camera (320x240, 15 frames/s, a keyframe a second) and a tone."""
    args = argparse.Namespace(
        video=str(video_clip(cache, 320, 240, fps=15, kbps=300, gop=15)),
        audio=str(audio_clip(cache)),
        publish=True, fps=15, mode="passthrough", url="",
    )  # fmt: skip
    return args, load_clip(args)


class Seat:
    """One participant of the recorded room, across the peers it takes to stay in it."""

    def __init__(self, name: str, path: str, headers: dict[str, str], media: Any) -> None:
        self.name, self.path, self.headers = name, path, headers
        self.args, self.clip = media
        self.peer: RoomPeer | None = None
        self.joins = 0

    async def join(self, http: aiohttp.ClientSession, base: str, resume: str = "") -> RoomPeer:
        self.joins += 1
        peer = RoomPeer(f"{self.name or 'host'}-{self.joins}", f"{base}{self.path}",
                        self.name, not self.name, self.args, self.clip)  # fmt: skip
        peer.headers, peer.resume = self.headers, resume
        try:
            await asyncio.wait_for(peer.start(http), 20)
        except BaseException:
            await peer.stop()
            raise
        self.peer = peer
        return peer

    async def come_back(self, http: aiohttp.ClientSession, bases: list[str]) -> float | None:
        """After its socket closes (within 15 s; else ``TimeoutError``: it was not moved):
        seconds from the close to being back in the main room with media again, None if
        not within 30 s."""
        old = self.peer
        assert old is not None
        deadline = time.monotonic() + 15
        while old.closed_at is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name or 'host'} was not moved")
            await asyncio.sleep(0.05)
        closed, resume = old.closed_at, old.welcome["resume"]
        await old.stop()
        i = 0
        while time.monotonic() < closed + 30:
            try:
                peer = await self.join(http, bases[i % len(bases)], resume)
            except (TimeoutError, aiohttp.ClientError, RuntimeError):
                i += 1
                await asyncio.sleep(0.1)
                continue
            if peer.welcome.get("resumed") and peer.welcome.get("place") == "main":
                return time.monotonic() - closed
            return None
        return None


async def recording_gaps(
    db_url: str, sid: int, dead: list[str], within: float = 60.0
) -> tuple[list[float], str]:
    """The recorded room's gaps, once no segment of a ``dead`` node is still open (its cut
    files recovered by a live node); and the statuses of the dead nodes' segments."""
    conn = await asyncpg.connect(db_url.replace("+asyncpg", ""))
    try:
        query = """SELECT s.node, s.identity, s.label, s.status, s.end_reason, s.started_at,
                          s.ended_at FROM recording_segments s
                   JOIN recordings r ON r.id = s.recording_id WHERE r.session_id = $1"""
        deadline = time.monotonic() + within
        while True:
            rows = await conn.fetch(query, sid)
            still_open = [r for r in rows if r["node"] in dead and r["status"] == "recording"]
            if not still_open or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    gaps = []
    for cut in rows:
        if cut["end_reason"] not in CUT_REASONS or cut["ended_at"] is None:
            continue
        later = [r["started_at"] for r in rows
                 if (r["identity"], r["label"]) == (cut["identity"], cut["label"])
                 and r["node"] != cut["node"] and r["started_at"] >= cut["started_at"]]  # fmt: skip
        if later:
            gaps.append((min(later) - cut["ended_at"]).total_seconds())
    statuses = sorted({f"{r['status']}:{r['end_reason']}" for r in rows if r["node"] in dead})
    return gaps, ",".join(statuses)
