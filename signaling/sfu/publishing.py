"""The tracks a peer publishes, made as its answer declares them (``Peer.learn_publish_ssrcs``):
an ``InboundTrack`` for each microphone, camera or screen SSRC, or with simulcast one
``SimulcastTrack`` for the camera whose layers, ``InboundTrack``s too, are learnt by RID from
their first packets. Each asks the publisher for keyframes (PLI) and, when packets are
forwarded as they are, for lost packets again (NACK)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from signaling.sfu.inbound import InboundTrack
from signaling.sfu.peer import Peer
from signaling.sfu.simulcast import SimulcastTrack


def _inbound(
    peer: Peer, label: str, kind: str, ssrc: int, *, nack: bool, on_first: Callable[[Any], None]
) -> InboundTrack:
    return InboundTrack(
        peer.id,
        label,
        kind,
        ssrc,
        send_pli=peer.send_pli,
        send_nack=peer.send_nack if nack else None,
        on_first_packet=on_first,
    )


def track_maker(
    peer: Peer, *, nack: bool, on_live: Callable[[Any], None]
) -> Callable[[str, str, int], InboundTrack]:
    """Makes ``peer``'s track for (label, kind, ssrc); ``on_live`` hears its first packet.
    ``nack``: ask for lost packets (the pass-through SFU; the transcoding baseline does not)."""

    def make(label: str, kind: str, ssrc: int) -> InboundTrack:
        return _inbound(peer, label, kind, ssrc, nack=nack, on_first=on_live)

    return make


def simulcast_maker(
    peer: Peer,
    *,
    on_live: Callable[[Any], None],
    on_better_layer: Callable[[SimulcastTrack], None],
) -> Callable[[str, int], SimulcastTrack]:
    """Makes ``peer``'s simulcast camera for (label, RID header extension id); ``on_live``
    hears its first packet, ``on_better_layer`` each better layer that starts. Simulcast is
    the pass-through SFU's only, so its layers always ask for lost packets."""

    def make(label: str, rid_ext: int) -> SimulcastTrack:
        def layer(rid: str, ssrc: int, on_first: Callable[[InboundTrack], None]) -> InboundTrack:
            return _inbound(peer, label, "video", ssrc, nack=True, on_first=on_first)

        track = SimulcastTrack(peer.id, label, rid_ext, make_layer=layer, on_first_packet=on_live)
        track.on_better_layer = on_better_layer
        return track

    return make
