"""The room state machine of one live session: who is where, who may do what.

Pure: no I/O, no sockets, the clock is injected. Every call returns a list of *effects*
(``Place``: put a participant's media in a room or nowhere; ``Send``: a message to one
participant; ``Close``: end a participant's socket with a reason; ``Roster``: everyone's view
changed) which ``signaling.hub`` carries out against WebSockets and the SFU.

A participant is in exactly one place: the lobby (``None``), ``main`` or one caucus room
(``caucus-<x>``). Hosts go straight to ``main``; everyone else waits in the lobby until a host
admits them. A participant whose connection drops keeps their place for ``resume_seconds``
and gets it back by presenting their resume token, as the same identity and by the same way
in (``via``: a party's invite link); after that they are forgotten, and a new join starts in
the lobby again. Guests of joint mediation (``signaling.guests``) come in like parties; who
of them may enter caucus rooms, and the interpreters who follow their party, is decided
there.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final, Literal

from signaling import guests
from signaling import protocol as p
from signaling.browser_messages import (
    Admit,
    AgreementShow,
    ClientMessage,
    Deny,
    DocumentShow,
    End,
    GuestCaucus,
    Leave,
    Media,
    Move,
    MuteRequest,
    Remove,
)
from signaling.guests import Guest
from signaling.server_messages import (
    AgreementShown,
    ByeReason,
    DocumentShown,
    HostOut,
    MuteRequested,
    Outgoing,
    PersonOut,
    State,
)

MAIN = "main"
RESUME_SECONDS = 60
HOST: Final = "host"
STAFF: Final = "staff"
PARTY: Final = "party"
GUEST: Final = "guest"
Role = Literal["host", "staff", "party", "guest"]
# Messages only a host may send; every other role gets NOT_ALLOWED for them.
HOST_ONLY = frozenset(
    {
        "admit", "deny", "remove", "move", "mute_request", "end", "agreement.show",
        "document.show", "guest.caucus",
    }
)  # fmt: skip


@dataclass
class Member:
    pid: str
    identity: str  # "user:<id>" or "party:<id>": one live connection per identity
    name: str
    role: Role
    place: str | None
    resume: str
    # How they came in ("invite:<id>" for a party's link, else the identity): their resume
    # token is good by this way in only.
    via: str = ""
    connected: bool = True
    dropped_at: float | None = None
    audio: bool = True
    video: bool = True
    screen: bool = False
    guest: Guest | None = None  # a guest of joint mediation (role GUEST)

    def out(self) -> PersonOut:
        g = self.guest
        return PersonOut(
            pid=self.pid,
            name=self.name,
            role=self.role,
            place=self.place,
            connected=self.connected,
            audio=self.audio,
            video=self.video,
            screen=self.screen,
            organisation=g.organisation if g else None,
            guest_role=g.role if g else None,
            may_caucus=g.may_caucus if g else None,
        )


@dataclass(frozen=True)
class Place:
    pid: str
    place: str | None


@dataclass(frozen=True)
class Send:
    pid: str
    message: Outgoing


@dataclass(frozen=True)
class Close:
    pid: str
    reason: ByeReason


@dataclass(frozen=True)
class Roster:
    pass


@dataclass(frozen=True)
class CaucusDecided:
    """The host let guest ``pid`` into caucus rooms (``allow``) or no longer does (the
    listeners hear it: the court keeps the decision for the guest's next connection)."""

    pid: str
    allow: bool
    by: str  # the host's pid


@dataclass(frozen=True)
class Shown:
    """``pid`` showed document ``document_id`` to everyone in ``place`` (the listeners hear
    it: the court records who saw which document)."""

    pid: str
    document_id: int
    place: str
    audience: tuple[str, ...]


Effect = Place | Send | Close | Roster | Shown | CaucusDecided


def _new_pid() -> str:
    return "p" + secrets.token_hex(6)


@dataclass
class Room:
    """One session's live state. ``host_name`` is whom the lobby is told it waits for."""

    host_name: str = ""
    clock: Callable[[], float] = time.monotonic
    resume_seconds: float = RESUME_SECONDS
    members: dict[str, Member] = field(default_factory=dict)
    ended: bool = False

    # --- joining and leaving -------------------------------------------------------------

    def join(
        self,
        identity: str,
        name: str,
        role: Role,
        resume: str | None = None,
        *,
        via: str | None = None,
        guest: Guest | None = None,
    ) -> tuple[Member, bool, list[Effect]]:
        """A new connection for ``identity``, come in by ``via`` (default: the identity);
        ``guest`` for a guest of joint mediation. Returns (member, resumed, effects)."""
        via = via or identity
        if self.ended:
            raise p.ProtocolError(p.SESSION_ENDED, "this session has ended")
        effects = self.expire()
        old = next((m for m in self.members.values() if m.identity == identity), None)
        resumed = bool(
            old is not None
            and resume is not None
            and old.via == via
            and hmac.compare_digest(old.resume.encode(), resume.encode())  # any text at all
            and (old.connected or self._within_window(old))
        )
        if role == HOST:
            place: str | None = MAIN
        else:
            place = None
        if old is not None:
            if resumed:
                place = old.place
                if guest is not None and old.guest is not None:
                    # The host's decision in the room holds over what the link said.
                    guest = replace(guest, may_caucus=old.guest.may_caucus)
            del self.members[old.pid]
            if old.connected:
                effects.append(Close(old.pid, "replaced"))
        member = Member(_new_pid(), identity, name, role, place, secrets.token_urlsafe(24), via)
        member.guest = guest
        self.members[member.pid] = member
        effects += [Place(member.pid, place), Roster()]
        return member, resumed, effects

    def _within_window(self, m: Member) -> bool:
        return m.dropped_at is not None and self.clock() - m.dropped_at <= self.resume_seconds

    def drop(self, pid: str) -> list[Effect]:
        """The connection was lost (not a deliberate leave): keep the place for a while."""
        m = self.members.get(pid)
        if m is None or not m.connected:
            return []
        m.connected = False
        m.dropped_at = self.clock()
        return [Place(pid, None), Roster()]

    def expire(self) -> list[Effect]:
        """Forget participants who dropped more than ``resume_seconds`` ago."""
        gone = [
            m.pid for m in self.members.values() if not m.connected and not self._within_window(m)
        ]
        for pid in gone:
            del self.members[pid]
        return [Roster()] if gone else []

    # --- messages ------------------------------------------------------------------------

    def handle(self, pid: str, msg: ClientMessage) -> list[Effect]:
        """Apply one message from ``pid``; raises ProtocolError for a refused one."""
        me = self.members.get(pid)
        if me is None or not me.connected:
            raise p.ProtocolError(p.NOT_JOINED, "say hello first", msg.id)
        if self.ended:
            raise p.ProtocolError(p.SESSION_ENDED, "this session has ended", msg.id)
        if msg.type in HOST_ONLY and me.role != HOST:
            raise p.ProtocolError(p.NOT_ALLOWED, f"only the host may send {msg.type}", msg.id)
        if isinstance(msg, Media):
            me.audio, me.video, me.screen = msg.audio, msg.video, msg.screen
            return [Roster()]
        if isinstance(msg, Leave):
            del self.members[pid]
            return [Close(pid, "left"), Place(pid, None), Roster()]
        if isinstance(msg, End):
            return self.end()
        if isinstance(msg, AgreementShow):
            shown = AgreementShown(agreement_id=msg.agreement_id, by=me.name)
            return [Send(m.pid, shown) for m in self._in_place(me.place)]
        if isinstance(msg, DocumentShow):
            if me.place is None:
                raise p.ProtocolError(p.BAD_STATE, "join a room first", msg.id)
            doc = DocumentShown(document_id=msg.document_id, by=me.name)
            audience = self._in_place(me.place)
            return [
                *(Send(m.pid, doc) for m in audience),
                Shown(me.pid, msg.document_id, me.place, tuple(m.pid for m in audience)),
            ]
        if isinstance(msg, Admit | Deny | Remove | Move | MuteRequest):
            return self._host_action(me, msg)
        if isinstance(msg, GuestCaucus):
            return self._decide_caucus(me, msg)
        raise p.ProtocolError(p.UNKNOWN_TYPE, f"{msg.type} is not a room message", msg.id)

    def _host_action(
        self, me: Member, msg: Admit | Deny | Remove | Move | MuteRequest
    ) -> list[Effect]:
        target = self.members.get(msg.pid)
        if target is None:
            raise p.ProtocolError(p.NO_SUCH_PARTICIPANT, f"no participant {msg.pid}", msg.id)
        if isinstance(msg, Admit | Deny) and target.place is not None:
            raise p.ProtocolError(p.BAD_STATE, f"{target.name} is not in the lobby", msg.id)
        if isinstance(msg, Remove | MuteRequest) and target is me:
            raise p.ProtocolError(p.BAD_STATE, "not to yourself", msg.id)
        if isinstance(msg, Remove) and target.role == HOST:
            raise p.ProtocolError(p.NOT_ALLOWED, "a host cannot be removed", msg.id)
        if isinstance(msg, Admit):
            target.place = MAIN
            return [Place(target.pid, MAIN), Roster()]
        if isinstance(msg, Deny | Remove):
            del self.members[target.pid]
            reason: Literal["denied", "removed"] = "denied" if isinstance(msg, Deny) else "removed"
            return [Close(target.pid, reason), Place(target.pid, None), Roster()]
        if isinstance(msg, Move):
            if target.place == msg.room:
                raise p.ProtocolError(p.BAD_STATE, f"{target.name} is already there", msg.id)
            following = guests.followers(self.members.values(), target)
            guests.check_move(target, msg.room, following, msg.id)
            moved = [target, *(m for m in following if m.place != msg.room)]
            for m in moved:
                m.place = msg.room
            return [*(Place(m.pid, msg.room) for m in moved), Roster()]
        return [Send(target.pid, MuteRequested(by=me.name))]

    def _decide_caucus(self, me: Member, msg: GuestCaucus) -> list[Effect]:
        target = self.members.get(msg.pid)
        if target is None:
            raise p.ProtocolError(p.NO_SUCH_PARTICIPANT, f"no participant {msg.pid}", msg.id)
        if target.guest is None:
            raise p.ProtocolError(p.BAD_STATE, f"{target.name} is not a guest", msg.id)
        target.guest = replace(target.guest, may_caucus=msg.allow)
        effects: list[Effect] = [CaucusDecided(target.pid, msg.allow, me.pid)]
        if not msg.allow and target.place not in (None, MAIN):
            # No longer allowed where they are: back to the main room at once.
            target.place = MAIN
            effects.append(Place(target.pid, MAIN))
        return [*effects, Roster()]

    def expel(self, pid: str, reason: ByeReason) -> list[Effect]:
        """``pid`` may no longer be here (their access was withdrawn): forgotten at once, with
        no place kept to resume; closed with ``reason`` if connected."""
        m = self.members.pop(pid, None)
        if m is None:
            return []
        effects: list[Effect] = [Close(pid, reason)] if m.connected else []
        return [*effects, Place(pid, None), Roster()]

    def end(self, reason: Literal["ended", "cancelled"] = "ended") -> list[Effect]:
        """End the session: everyone is closed; later joins are refused."""
        self.ended = True
        effects: list[Effect] = []
        for m in list(self.members.values()):
            if m.connected:
                effects.append(Close(m.pid, reason))
            effects.append(Place(m.pid, None))
        self.members.clear()
        return effects

    # --- moving between nodes -------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """What another node needs to take this room over (``restore``): who is here, where,
        and their resume tokens. JSON-able; times are not carried (clocks differ by node)."""
        keep = ("pid", "identity", "name", "role", "place", "resume", "via", "audio", "video")
        return {
            "host_name": self.host_name,
            "members": [
                {k: getattr(m, k) for k in keep}
                | ({"guest": asdict(m.guest)} if m.guest is not None else {})
                for m in self.members.values()
                if m.connected or self._within_window(m)
            ],
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Take over a room another node held (it stopped or died): everyone in it has
        dropped as of now, and gets their place back by resuming within ``resume_seconds``,
        as after any dropped connection. Nobody is sharing a screen any more."""
        now = self.clock()
        self.host_name = snapshot.get("host_name") or self.host_name
        for m in snapshot.get("members", []):
            guest = Guest(**m["guest"]) if m.get("guest") else None
            fields = {k: v for k, v in m.items() if k != "guest"}
            member = Member(**fields, connected=False, dropped_at=now, guest=guest)
            self.members[member.pid] = member

    # --- views ---------------------------------------------------------------------------

    def _in_place(self, place: str | None) -> list[Member]:
        return [m for m in self.members.values() if m.place == place and m.connected]

    def rooms(self) -> list[str]:
        used = {m.place for m in self.members.values() if m.place is not None}
        return sorted(used | {MAIN}, key=lambda r: (r != MAIN, r))

    def view(self, pid: str) -> State:
        """What ``pid`` may see: a host sees everyone and every room; others see their own
        room (or only themselves in the lobby) and whether the host has arrived."""
        me = self.members[pid]
        hosts = [m for m in self.members.values() if m.role == HOST]
        host_out = [HostOut(name=h.name, present=h.connected) for h in hosts] or [
            HostOut(name=self.host_name, present=False)
        ]
        if me.role == HOST:
            people = list(self.members.values())
            rooms = self.rooms()
        elif me.place is None:
            people, rooms = [me], []
        else:
            people = [m for m in self.members.values() if m.place == me.place]
            rooms = [me.place]
        return State(
            you=me.out(),
            hosts=host_out,
            people=[m.out() for m in people],
            rooms=rooms,
            lobby_count=sum(1 for m in self.members.values() if m.place is None and m.connected),
        )

    def connected_pids(self) -> list[str]:
        return [m.pid for m in self.members.values() if m.connected]
