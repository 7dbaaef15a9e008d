"""The typed interface between live rooms and whatever watches them (the recorder), owned by
signaling.

What happens in rooms reaches every ``RoomListener`` registered with the hub as a frozen
dataclass whose fields are typed, never ids to parse: ``TrackStarted`` / ``TrackEnded`` (a
participant's camera, microphone or screen begins or stops being forwarded in a room),
``PlaceChanged`` (a participant arrived in the lobby or a room, or left it), ``SessionEnded``.
Encoded media reaches a listener through the ``PacketSink`` it returns for a track; what a
listener may ask of the rooms is ``RoomControl``: show participants whether their place is
recorded, and ask a publisher for a keyframe.

This module imports neither aiohttp nor aiortc. A listener need not import it either: it may
declare the fields it reads as Protocols of its own (``recordings`` does, and never imports
signaling); the module that wires them (``server.live``) is where mypy checks they fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from signaling.rooms import Role

Source = Literal["camera", "microphone", "screen"]
Kind = Literal["audio", "video"]
# Why a track is no longer forwarded in its room (``TrackEnded.reason``).
EndReason = Literal["moved", "left", "stopped"]


@dataclass(frozen=True, slots=True)
class Participant:
    """Who someone in a session is. ``pid`` is their id in the session for one connection
    (a participant who reconnects gets a new one); ``user_id`` is set for a court or office
    account, ``party_id`` for a case party who came by invite link, ``guest_id`` for a guest
    of joint mediation who came by theirs."""

    pid: str
    name: str
    role: Role
    user_id: int | None = None
    party_id: int | None = None
    guest_id: int | None = None  # a guest of joint mediation, by their invite link


@dataclass(frozen=True, slots=True)
class TrackStarted:
    """A participant's track is forwarded in ``room`` from now on: their first packets after
    arriving there, or after the track (a screen share) started. ``room`` is ``"main"`` or a
    caucus room, never the lobby. ``codec`` is ``"VP8"`` or ``"opus"``; ``clock_rate`` the RTP
    clock of the packets (90000 for VP8, 48000 for Opus)."""

    session_id: int
    room: str
    participant: Participant
    source: Source
    kind: Kind
    codec: str
    clock_rate: int


@dataclass(frozen=True, slots=True)
class TrackEnded:
    """The track named by the same fields in a ``TrackStarted`` is no longer forwarded in
    ``room``. ``reason`` says why: ``"moved"``, its participant was put in another room (a
    caucus room, back to the main room, or the lobby; their track starts again there unless
    it was the lobby); ``"left"``, the participant is gone (left, dropped, removed, replaced
    by their own new connection, the session ended); ``"stopped"``, the track itself stopped
    (a screen share ended)."""

    session_id: int
    room: str
    participant: Participant
    source: Source
    reason: EndReason


@dataclass(frozen=True, slots=True)
class PlaceChanged:
    """A participant's media went from ``previous`` to ``room``; ``None`` is the lobby, or
    nowhere (just arrived, dropped, left, removed)."""

    session_id: int
    participant: Participant
    previous: str | None
    room: str | None


@dataclass(frozen=True, slots=True)
class SessionEnded:
    """The session was ended. ``ended_by`` is the user id of the host who ended it from the
    room; ``None`` when it was ended from outside (the API or a page, which record it)."""

    session_id: int
    ended_by: int | None


@dataclass(frozen=True, slots=True)
class DocumentShown:
    """The host showed document ``document_id`` (of the session's case file) to everyone in
    ``room``: ``audience`` is who was there, the host included."""

    session_id: int
    document_id: int
    by: Participant
    room: str
    audience: tuple[Participant, ...]


@dataclass(frozen=True, slots=True)
class GuestCaucusDecided:
    """Host ``by`` let guest ``participant`` into caucus rooms (``allow``), or no longer
    does."""

    session_id: int
    participant: Participant
    allow: bool
    by: Participant


@dataclass(slots=True)
class MediaPacket:
    """One forwarded RTP packet, as the publisher sent it (header fields are the publisher's,
    before the per-subscriber rewrite). ``payload`` is the RTP payload without padding: for
    VP8 it still begins with the VP8 payload descriptor; for Opus it is one Opus packet.
    ``arrival`` is the ``time.monotonic()`` it came in at. Not frozen: one is built per
    forwarded packet, and a frozen dataclass is slower to build."""

    sequence_number: int
    timestamp: int
    marker: bool
    payload_type: int
    payload: bytes
    keyframe: bool
    arrival: float


# Called synchronously on the event loop from the forwarding path, once per packet of the
# track, in arrival order: it must only queue the packet (bounded) and return.
PacketSink = Callable[[MediaPacket], None]


class RoomListener(Protocol):
    """Receives what happens in rooms, on the event loop. Register with ``Hub.add_listener``
    before the hub starts. A listener that raises is logged and the rooms go on.

    Subclassing it explicitly gives do-nothing defaults for the events one does not need.
    """

    def on_track_started(self, event: TrackStarted) -> PacketSink | None:
        """Called from the forwarding path: return at once. Return a sink to receive the
        track's packets until its ``TrackEnded`` (the SFU then asks the publisher for a
        keyframe, so a recording can start at one), or ``None`` for none."""
        return None

    def on_track_ended(self, event: TrackEnded) -> None:
        """The sink returned for this track gets no more packets."""
        return None

    def on_place_changed(self, event: PlaceChanged) -> None:
        """Called under the session's lock, after the participants were told their new
        view; ``RoomControl`` may be called from here."""
        return None

    def on_document_shown(self, event: DocumentShown) -> None:
        """Called under the session's lock once the room was told; return at once."""
        return None

    def on_guest_caucus(self, event: GuestCaucusDecided) -> None:
        """Called under the session's lock once the room was told; return at once."""
        return None

    async def on_session_ended(self, event: SessionEnded) -> None:
        """Awaited, listener after listener, before the participants are told and closed:
        whatever must hold before anyone can try to rejoin is done here; slow work belongs
        in a task of the listener's own."""
        return None


class RoomControl(Protocol):
    """What a listener may ask of the live rooms (the hub implements it). Both calls are
    cheap, synchronous, and ignore sessions and participants not live in this process."""

    def set_recorded(
        self, session_id: int, *, main: bool, caucus: bool, alarm: str | None = None
    ) -> None:
        """Which places of the session are being recorded: the main room when ``main``,
        every caucus room when ``caucus``, the lobby never. A participant is shown whether
        their place is recorded whenever that changes, and whenever they arrive somewhere.
        ``alarm`` says recording stopped by itself: the session's hosts are shown it."""
        ...

    def request_keyframe(self, session_id: int, pid: str) -> None:
        """Ask the participant's camera and screen for a keyframe (rate-limited per track),
        e.g. when recording of them starts again: a video file can only begin at one."""
        ...
