"""The hub's side of ``signaling.events``: its registered listeners, and the SFU tap that turns
the SFU's peers and rooms into typed track events.

The SFU knows peers and rooms only by the ids the hub gave them. The hub tells ``Listeners``
who each peer is and which session and room each room id stands for as it makes them, so no
id is ever parsed back. A listener that raises is logged and skipped: a fault in whatever
watches the rooms must neither take a room down nor break the forwarding path, which is
where track events are called from.
"""

from __future__ import annotations

import logging
from functools import partial

from signaling.events import (
    DocumentShown,
    EndReason,
    GuestCaucusDecided,
    Kind,
    MediaPacket,
    PacketSink,
    Participant,
    PlaceChanged,
    RoomListener,
    SessionEnded,
    Source,
    TrackEnded,
    TrackStarted,
)

log = logging.getLogger(__name__)
# The SFU's track labels are the names of its m-lines; listeners hear what the track is.
_SOURCES: dict[str, Source] = {"camera": "camera", "audio": "microphone", "screen": "screen"}
_CLOCK_RATES: dict[Kind, int] = {"video": 90000, "audio": 48000}
# The SFU's words for why a track left its room (``MediaTap.on_track_end``), typed.
_END_REASONS: dict[str, EndReason] = {"moved": "moved", "left": "left", "stopped": "stopped"}


class Listeners:
    """Fans the hub's and the SFU's happenings out to the ``RoomListener``s, in the order
    they were added."""

    def __init__(self) -> None:
        self._listeners: list[RoomListener] = []
        self._peers: dict[str, tuple[int, Participant]] = {}  # SFU peer id -> session, who
        self._rooms: dict[str, tuple[int, str]] = {}  # SFU room id -> session, room
        # Every track started and not yet ended, by the SFU's ids: its end event, all but
        # the reason the SFU gives then (its peer may be gone from ``_peers`` by then).
        self._tracks: dict[tuple[str, str], partial[TrackEnded]] = {}

    def add(self, listener: RoomListener) -> None:
        self._listeners.append(listener)

    def remove(self, listener: RoomListener) -> None:
        self._listeners.remove(listener)

    # --- what the hub tells it -------------------------------------------------------------

    def peer(self, peer_id: str, session_id: int, who: Participant) -> None:
        self._peers[peer_id] = (session_id, who)

    def forget_peer(self, peer_id: str) -> None:
        self._peers.pop(peer_id, None)

    def room(self, session_id: int, room: str) -> str:
        """The SFU's id for one room of a session."""
        key = f"s{session_id}:{room}"
        self._rooms[key] = (session_id, room)
        return key

    def forget_rooms(self, session_id: int) -> None:
        for key in [k for k, (sid, _) in self._rooms.items() if sid == session_id]:
            del self._rooms[key]

    # --- the SFU's tap (signaling.sfu.MediaTap) --------------------------------------------

    def on_track_start(
        self, peer_id: str, room: str, track_id: str, kind: str, label: str, codec: str
    ) -> PacketSink | None:
        peer, where, source = self._peers.get(peer_id), self._rooms.get(room), _SOURCES.get(label)
        if peer is None or where is None or source is None:
            return None  # not one of the hub's (a peer the hub is still setting up or freed)
        session_id, who = peer
        typed_kind: Kind = "video" if kind == "video" else "audio"
        started = TrackStarted(
            session_id, where[1], who, source, typed_kind, codec, _CLOCK_RATES[typed_kind]
        )
        self._tracks[(peer_id, track_id)] = partial(TrackEnded, session_id, where[1], who, source)
        sinks: list[PacketSink] = []
        for listener in self._listeners:
            try:
                sink = listener.on_track_started(started)
            except Exception:
                log.exception("room listener %r failed on %s", listener, started)
                continue
            if sink is not None:
                sinks.append(sink)
        if len(sinks) <= 1:
            return sinks[0] if sinks else None
        return _fan_out(tuple(sinks))

    def on_track_end(self, peer_id: str, track_id: str, reason: str) -> None:
        track = self._tracks.pop((peer_id, track_id), None)
        if track is None:
            return
        # A reason the SFU may learn later is, to a listener, the track having stopped.
        ended = track(_END_REASONS.get(reason, "stopped"))
        for listener in list(self._listeners):
            try:
                listener.on_track_ended(ended)
            except Exception:
                log.exception("room listener %r failed on %s", listener, ended)

    # --- the hub's happenings --------------------------------------------------------------

    def place_changed(self, event: PlaceChanged) -> None:
        for listener in list(self._listeners):
            try:
                listener.on_place_changed(event)
            except Exception:
                log.exception("room listener %r failed on %s", listener, event)

    def document_shown(self, event: DocumentShown) -> None:
        for listener in list(self._listeners):
            try:
                listener.on_document_shown(event)
            except Exception:
                log.exception("room listener %r failed on %s", listener, event)

    def guest_caucus(self, event: GuestCaucusDecided) -> None:
        for listener in list(self._listeners):
            try:
                listener.on_guest_caucus(event)
            except Exception:
                log.exception("room listener %r failed on %s", listener, event)

    async def session_ended(self, event: SessionEnded) -> None:
        for listener in list(self._listeners):
            try:
                await listener.on_session_ended(event)
            except Exception:
                log.exception("room listener %r failed on %s", listener, event)


def _fan_out(sinks: tuple[PacketSink, ...]) -> PacketSink:
    # Only when several listeners want one track's packets; one sink is handed to the SFU as
    # it is, so the usual case adds no call per packet.
    def fan_out(packet: MediaPacket) -> None:
        for sink in sinks:
            sink(packet)

    return fan_out
