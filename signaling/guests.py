"""Guests of joint mediation (联调) in a live room: who they are as the room knows them, and
the rules for moving them, kept beside ``signaling.rooms`` (which applies them).

A guest (a people's mediator, a police officer, a labour inspector, an interpreter) comes by
their own invite link, waits in the lobby and is admitted like a party. The host decides
whether a guest may enter caucus (背对背) rooms (``guest.caucus``; the invite says where they
start); without it, moving them into one is refused (``caucus_not_allowed``). An interpreter
goes where the party they serve goes, into a caucus room and back; a party whose interpreter
may not enter caucus rooms is not moved into one without them, so the host decides first.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from signaling import protocol as p


@dataclass(frozen=True)
class Guest:
    """What the room knows of a guest (``server.guests``): shown on their tile and in the
    roster; ``serves`` is the identity (``party:<id>``) of the party an interpreter serves."""

    guest_id: int
    organisation: str
    role: str
    serves: str = ""
    may_caucus: bool = False


class Someone(Protocol):
    """What these rules read of a room's member (``signaling.rooms.Member``)."""

    @property
    def name(self) -> str: ...
    @property
    def identity(self) -> str: ...
    @property
    def place(self) -> str | None: ...
    @property
    def guest(self) -> Guest | None: ...


M = TypeVar("M", bound=Someone)


def followers(members: Iterable[M], target: Someone) -> list[M]:
    """The interpreters who follow ``target`` (admitted ones: the lobby stays the lobby)."""
    return [
        m
        for m in members
        if m.guest is not None
        and m.guest.serves
        and m.guest.serves == target.identity
        and m.place is not None
    ]


def check_move(target: Someone, room: str, following: list[M], rid: int | str | None) -> None:
    """Refuse moving ``target`` (and who follows them) into caucus room ``room`` when a guest
    among them may not enter one."""
    if not room.startswith("caucus-"):
        return
    group: list[Someone] = [target, *following]
    for m in group:
        if m.guest is not None and not m.guest.may_caucus:
            why = "" if m is target else f" (interpreting for {target.name})"
            raise p.ProtocolError(
                p.CAUCUS_NOT_ALLOWED,
                f"{m.name}{why} may not enter private rooms; allow them first",
                rid,
            )
