"""Read-outs of the forwarding state: ``Sfu.stats()`` rows, and tap bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from signaling.sfu.inbound import InboundTrack
from signaling.sfu.media import MediaTap, PacketSink
from signaling.sfu.outlet import Outlet
from signaling.sfu.peer import Peer


def start_taps(taps: Sequence[MediaTap], room: str, track: InboundTrack) -> None:
    """Announce a live track entering ``room`` to the taps that do not know it yet, and send
    its packets to the sinks they give."""
    added: list[tuple[MediaTap, PacketSink | None]] = []
    for tap in taps:
        if any(tap is known for known, _ in track.taps):  # by identity: need not be hashable
            continue
        sink = tap.on_track_start(
            track.peer_id, room, track.track_id, track.kind, track.label, track.codec
        )
        added.append((tap, sink))
    if not added:
        return
    track.taps = (*track.taps, *added)
    track.sinks = tuple(sink for _, sink in track.taps if sink is not None)
    if any(sink is not None for _, sink in added):
        # a recorder starts its file at a keyframe: don't make it wait for the browser's next
        track.request_keyframe()


def stop_tap(tap: MediaTap, track: InboundTrack) -> None:
    """Stop sending the track's packets to ``tap`` (removed), without telling it."""
    track.taps = tuple((t, s) for t, s in track.taps if t is not tap)
    track.sinks = tuple(sink for _, sink in track.taps if sink is not None)


def end_taps(track: InboundTrack, reason: str) -> None:
    """The track left its room (or stopped): stop sending to the taps' sinks, tell them why
    (``MediaTap.on_track_end``)."""
    taps, track.taps, track.sinks = track.taps, (), ()
    for tap, _ in taps:
        tap.on_track_end(track.peer_id, track.track_id, reason)


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
        **nack_stats(t),
    }


def nack_stats(t: InboundTrack) -> dict[str, Any]:
    """Upstream loss recovery (video): NACKs sent to the publisher, the packets they asked
    for (retries counted again), how many came back, and how many were given up."""
    n = t.nack
    if n is None:
        return {}
    return {
        "nacks_sent": n.nacks_sent,
        "nacked_packets": n.nacked,
        "recovered": n.recovered,
        "unrecovered": n.given_up,
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
