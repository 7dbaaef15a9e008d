"""What recordings need of the live rooms, declared here so that recordings never import
signaling: the fields read from the room events and the two calls made back.

These are structural types. Signaling's own (``signaling.events``: ``TrackStarted``,
``RoomControl``, ...) fit them; ``server.live`` hands those to the recording service, and
that is where mypy checks that they do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

# Where the forwarding path puts one track's packets: called once per packet, on the loop.
Sink = Callable[[Any], None]


class Person(Protocol):
    """Who published a track."""

    @property
    def pid(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def user_id(self) -> int | None: ...
    @property
    def party_id(self) -> int | None: ...
    @property
    def guest_id(self) -> int | None: ...


class StartedTrack(Protocol):
    """A track forwarded in a room from now on; ``source`` is camera, microphone or screen."""

    @property
    def session_id(self) -> int: ...
    @property
    def room(self) -> str: ...
    @property
    def participant(self) -> Person: ...
    @property
    def source(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def codec(self) -> str: ...


class EndedTrack(Protocol):
    """The track with these fields is no longer forwarded in its room; ``reason`` is
    ``"moved"`` when its participant was put in another room (a caucus room, back to the
    main room, the lobby), else why the track went (``"left"``, ``"stopped"``)."""

    @property
    def session_id(self) -> int: ...
    @property
    def participant(self) -> Person: ...
    @property
    def source(self) -> str: ...
    @property
    def reason(self) -> str: ...


class SessionEvent(Protocol):
    """Something happened in a session (a participant changed place, it ended)."""

    @property
    def session_id(self) -> int: ...


class Rooms(Protocol):
    """What recordings ask of the live rooms (see ``signaling.events.RoomControl``)."""

    def set_recorded(
        self, session_id: int, *, main: bool, caucus: bool, alarm: str | None = None
    ) -> None: ...

    def request_keyframe(self, session_id: int, pid: str) -> None: ...


def identity(person: Person) -> str:
    """How segment rows, file tags and manifests name a participant: ``user:<id>`` for an
    account, ``party:<id>`` for a party who came by invite, ``guest:<id>`` for a guest of
    joint mediation who came by theirs (the manifest adds their organisation and role)."""
    if person.user_id is not None:
        return f"user:{person.user_id}"
    if person.guest_id is not None:
        return f"guest:{person.guest_id}"
    return f"party:{person.party_id}" if person.party_id is not None else ""


def label(source: str) -> str:
    # Segment rows and file tags keep the names the SFU's m-lines always had.
    return "audio" if source == "microphone" else source
