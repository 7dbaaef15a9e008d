"""Read-outs of the forwarding state: ``Sfu.stats()`` rows."""

from __future__ import annotations

from typing import Any

from signaling.sfu.inbound import InboundTrack
from signaling.sfu.outlet import Outlet
from signaling.sfu.peer import Peer
from signaling.sfu.simulcast import RIDS, Published, SimulcastTrack
from signaling.sfu.switching import SwitchingOutlet


def peer_stats(peer: Peer) -> dict[str, Any]:
    down = peer.downlink
    return {
        "room": peer.room,
        "connection": peer.pc.connectionState,
        "downlink": {
            "estimate_kbps": round(down.estimate / 1000, 1),
            "loss": down.last_loss,
            "queue_ms": None if down.queue_s is None else round(down.queue_s * 1000),
            "remb_kbps": None if down.remb_bps is None else round(down.remb_bps / 1000, 1),
            "mode": down.mode,
            "paused": sorted(down.paused),
            "ceiling_kbps": None if down.ceiling is None else round(down.ceiling / 1000, 1),
            "probes": down.probe.count,
            "probes_passed": down.probe.passed,
        },
        "published": {t.label: track_stats(t) for t in peer.inbound.values()},
        "received": [outlet_stats(s.outlet) for s in peer.slots if s.outlet],
    }


def track_stats(t: Published) -> dict[str, Any]:
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
        **layer_stats(t),
        # audio: whether its publisher adds Opus in-band FEC now (opus.py)
        **({"fec": t.carries_fec} if isinstance(t, InboundTrack) and not t.is_video else {}),
    }


def layer_stats(t: Published) -> dict[str, Any]:
    """A simulcast camera's layers: which flow, at what rate and frame count."""
    if not isinstance(t, SimulcastTrack):
        return {}
    return {
        "recorded": t.recorded_rid,
        # offered to subscribers now (a starved one is not: simulcast.SimulcastTrack.flowing)
        "flowing": [RIDS[i] for i in t.flowing()],
        "layers": {
            RIDS[i]: {
                "live": layer.live,
                "frames_in": layer.frames_in,
                "keyframes_in": layer.keyframes_in,
                "bitrate_kbps": round(layer.bitrate_bps / 1000, 1),
                "fps": round(layer.fps, 1),
            }
            for i, layer in enumerate(t.layers)
            if layer is not None
        },
    }


def nack_stats(t: Published) -> dict[str, Any]:
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
        "copies": o.copies,
        "copying": bool(o.copy_after),
        "waiting_keyframe": o.waiting,
        **(
            {
                "layer": None if o.current is None else RIDS[o.current],
                "target": None if o.target is None else RIDS[o.target],
                "switches": o.switches,
            }
            if isinstance(o, SwitchingOutlet)
            else {}
        ),
    }
