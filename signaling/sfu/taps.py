"""Taps: who is told about the tracks live in a room (the recorder, a benchmark's probe),
and where their packets go besides the subscribers (``MediaTap``).

A tap hears of a track when it becomes live in a room, or when its peer enters a room with
it live; it hears it end when the track leaves the room, stops or its peer leaves. A tap
that returns a sink gets every packet of the track from then on, starting at a keyframe
requested for it. ``Taps`` keeps the SFU's list of taps; the functions keep each track's own
record of the taps that know it (``Published.taps`` and ``.sinks``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from signaling.sfu.media import MediaTap, PacketSink
from signaling.sfu.peer import Peer
from signaling.sfu.simulcast import Published, SimulcastTrack


def start_taps(taps: Sequence[MediaTap], room: str, track: Published) -> None:
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


def stop_tap(tap: MediaTap, track: Published) -> None:
    """Stop sending the track's packets to ``tap`` (removed), without telling it."""
    track.taps = tuple((t, s) for t, s in track.taps if t is not tap)
    track.sinks = tuple(sink for _, sink in track.taps if sink is not None)


def end_taps(track: Published, reason: str) -> None:
    """The track left its room (or stopped): stop sending to the taps' sinks, tell them why
    (``MediaTap.on_track_end``)."""
    taps, track.taps, track.sinks = track.taps, (), ()
    for tap, _ in taps:
        tap.on_track_end(track.peer_id, track.track_id, reason)


class Taps:
    """The SFU's taps, over its peers (``peers``: the SFU's own dict, by peer id)."""

    def __init__(self, peers: Mapping[str, Peer]) -> None:
        self._peers = peers
        self._taps: list[MediaTap] = []

    def add(self, tap: MediaTap) -> None:
        """From now on; the tracks live in a room now are announced to it at once."""
        self._taps.append(tap)
        for peer in self._peers.values():
            if peer.room:
                for track in peer.inbound.values():
                    if track.live:
                        start_taps([tap], peer.room, track)

    def remove(self, tap: MediaTap) -> None:
        self._taps.remove(tap)
        for peer in self._peers.values():
            for track in peer.inbound.values():
                stop_tap(tap, track)

    def live(self, peer: Peer, track: Published) -> None:
        """``track`` of ``peer`` became live (its first packet, or sharing again)."""
        if peer.room is not None:
            start_taps(self._taps, peer.room, track)

    def entered(self, peer: Peer) -> None:
        """``peer`` entered its room: its live tracks are announced there."""
        for track in peer.inbound.values():
            if track.live:
                self.live(peer, track)

    def left(self, peer: Peer, reason: str) -> None:
        """``peer`` left its room (``moved``) or the session (``left``)."""
        for track in peer.inbound.values():
            end_taps(track, reason)

    def better_layer(self, track: SimulcastTrack) -> None:
        """A better layer of a recorded camera started: the recorders close the segment of
        the layer they had and open one on the better (``SimulcastTrack.sinks``)."""
        peer = self._peers.get(track.peer_id)
        if peer is None or peer.room is None or not track.sinks:
            return
        end_taps(track, "stopped")
        start_taps(self._taps, peer.room, track)
