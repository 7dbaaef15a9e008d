"""Which published tracks each subscriber's slots carry: the SFU's subscriptions.

A peer in a room gets every live track the others there publish (``desired``). Before each
offer ``sync`` gives every such track a slot (an idle one of its kind if there is one, else a
new m-line) and sets the slots' directions; ``prune`` stops at once what a peer should no
longer get; ``open_outlet`` starts forwarding on a slot once the answer for it came.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from signaling.sfu import baseline
from signaling.sfu.aiortc_hook.transceivers import negotiated_payload_type, sender_ssrc, set_msid
from signaling.sfu.outlet import Outlet
from signaling.sfu.peer import Peer, Slot
from signaling.sfu.simulcast import Published, SimulcastTrack
from signaling.sfu.switching import SwitchingOutlet


def desired(peers: Mapping[str, Peer], peer: Peer) -> list[Published]:
    """The live tracks of everyone else in ``peer``'s room (none in the lobby)."""
    if peer.room is None:
        return []
    return [
        t
        for p in peers.values()
        if p is not peer and p.room == peer.room
        for t in p.inbound.values()
        if t.live
    ]


def prune(peers: Mapping[str, Peer], peer: Peer, *, passthrough: bool) -> None:
    """Stop, at once, every outlet of ``peer`` whose track it should no longer get."""
    wanted = set(map(id, desired(peers, peer)))
    for slot in peer.slots:
        if slot.track is not None and id(slot.track) not in wanted:
            detach(slot, passthrough=passthrough)


def detach(slot: Slot, *, passthrough: bool) -> None:
    """Empty a slot: its outlet stops and it may carry another track of its kind later."""
    if slot.outlet is not None:
        slot.outlet.track.remove_outlet(slot.outlet)
        slot.next_seq, slot.last_ts_out = slot.outlet.next_seq, slot.outlet.last_ts_out
        slot.outlet = None
    if slot.track is not None and not passthrough:
        baseline.stop_sender_track(slot.sender)
        slot.dead = True
    if slot.track is not None:
        # aiortc writes an a=msid on every m-line, the inactive ones too; left as it was,
        # the idle m-line keeps naming the stream it carried, and once that stream is
        # offered on another m-line Chrome refuses the whole offer ("Duplicate a=msid").
        # "-" is JSEP's "no stream"; the track id is fresh so it can never collide.
        set_msid(slot.sender, "-", f"idle-{uuid.uuid4().hex}")
    slot.track = None


def sync(
    peers: Mapping[str, Peer],
    peer: Peer,
    *,
    passthrough: bool,
    relay: baseline.Relay | None,
) -> None:
    """Give every track ``peer`` should get a slot, and each slot its direction, for the next
    offer. ``relay`` is the transcoding baseline's (None when passing through)."""
    prune(peers, peer, passthrough=passthrough)
    carried = {id(s.track) for s in peer.slots if s.track is not None}
    for track in desired(peers, peer):
        if id(track) in carried:
            continue
        slot = next(
            (s for s in peer.slots if s.track is None and not s.dead and s.kind == track.kind),
            None,
        )
        if slot is None:
            slot = peer.new_slot(track.kind)
        slot.track = track
        stream = track.peer_id if track.label != "screen" else f"{track.peer_id}#screen"
        set_msid(slot.sender, stream, track.track_id)
        if not passthrough:
            assert relay is not None
            source = peers[track.peer_id].publish[track.label].receiver.track
            slot.sender.replaceTrack(relay.subscribe(source))
    for slot in peer.slots:
        slot.transceiver.direction = "sendonly" if slot.track is not None else "inactive"


def open_outlet(peer: Peer, slot: Slot, *, max_queue_bytes: int) -> None:
    """Start forwarding the slot's track to ``peer`` (its answer has set the slot's codec)."""
    assert slot.track is not None
    kind = SwitchingOutlet if isinstance(slot.track, SimulcastTrack) else Outlet
    outlet = kind(
        slot.track,
        peer.id,
        peer.holder,
        ssrc=sender_ssrc(slot.sender),
        payload_type=negotiated_payload_type(slot.transceiver),
        next_seq=slot.next_seq,
        last_ts_out=slot.last_ts_out,
        max_queue_bytes=max_queue_bytes,
    )
    slot.outlet = outlet
    slot.track.add_outlet(outlet)  # type: ignore[arg-type]
    if isinstance(outlet, SwitchingOutlet):
        peer.rebalance()  # its first layer, as its link and tile allow
