"""Read-outs of the forwarding state: ``Sfu.stats()`` rows, and tap bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from signaling.sfu.forward import InboundTrack, Outlet
from signaling.sfu.media import MediaTap
from signaling.sfu.peer import Peer


def start_taps(taps: Sequence[MediaTap], room: str, track: InboundTrack) -> None:
    """Announce a live track entering ``room`` and route its packets to the taps."""
    for tap in taps:
        tap.on_track_start(
            track.peer_id, room, track.track_id, track.kind, track.label, track.codec
        )
    # by identity: a tap need not be hashable
    track.taps = (*track.taps, *(t for t in taps if all(t is not x for x in track.taps)))
    if taps:
        # a recorder starts its file at a keyframe: don't make it wait for the browser's next
        track.request_keyframe()


def end_taps(track: InboundTrack) -> None:
    """The track left its room (or stopped): tell its taps, stop routing to them."""
    for tap in track.taps:
        tap.on_track_end(track.peer_id, track.track_id)
    track.taps = ()


def peer_stats(peer: Peer) -> dict[str, Any]:
    return {
        "room": peer.room,
        "connection": peer.pc.connectionState,
        "published": {t.label: track_stats(t) for t in peer.inbound.values()},
        "received": [outlet_stats(s.outlet) for s in peer.slots if s.outlet],
    }


def track_stats(t: InboundTrack) -> dict[str, Any]:
    return {
        "track_id": t.track_id,
        "live": t.live,
        "packets_in": t.packets_in,
        "bytes_in": t.bytes_in,
        "frames_in": t.frames_in,
        "keyframes_in": t.keyframes_in,
        "keyframe_requests": t.keyframe_requests,
        "malformed": t.malformed,
        "bitrate_kbps": round(t.bitrate_bps / 1000, 1),
        "subscribers": len(t.outlets),
    }


def outlet_stats(o: Outlet) -> dict[str, Any]:
    return {
        "track_id": o.track.track_id,
        "packets_out": o.packets_out,
        "frames_out": o.frames_out,
        "drops": o.drops,
        "gated_until_keyframe": o.gated,
        "nacks": o.nacks,
        "retransmits": o.retransmits,
        "waiting_keyframe": o.waiting,
    }
