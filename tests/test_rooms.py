"""The room state machine alone: lobby, admit, deny, caucus, remove, end, resume, refusals."""

from __future__ import annotations

import json

import pytest

from signaling import protocol as p
from signaling.browser_messages import parse_client
from signaling.rooms import HOST, HOST_ONLY, MAIN, Close, Place, Room, Send, Shown
from signaling.server_messages import DocumentShown, MuteRequested


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def msg(kind: str, **body):
    return parse_client(json.dumps({"v": 1, "type": kind, "id": 1, **body}))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def room(clock):
    return Room(host_name="王调解员", clock=clock)


def join(room, identity, name, role, resume=None):
    member, resumed, effects = room.join(identity, name, role, resume)
    return member, resumed, effects


def refuse(room, pid, message) -> str:
    with pytest.raises(p.ProtocolError) as err:
        room.handle(pid, message)
    return err.value.code


def test_lobby_then_admit(room):
    party, _, effects = join(room, "party:1", "张三", "party")
    assert party.place is None
    assert Place(party.pid, None) in effects
    lobby = room.view(party.pid)
    # Waiting for whom: the designated host, not yet here.
    assert [(h.name, h.present) for h in lobby.hosts] == [("王调解员", False)]
    assert [x.pid for x in lobby.people] == [party.pid] and lobby.rooms == []
    host, _, effects = join(room, "user:1", "王调解员", HOST)
    assert host.place == MAIN and Place(host.pid, MAIN) in effects
    assert room.view(party.pid).hosts[0].present is True
    assert room.view(host.pid).lobby_count == 1
    effects = room.handle(host.pid, msg("admit", pid=party.pid))
    assert Place(party.pid, MAIN) in effects
    assert party.place == MAIN
    assert {x.pid for x in room.view(party.pid).people} == {host.pid, party.pid}
    assert refuse(room, host.pid, msg("admit", pid=party.pid)) == p.BAD_STATE


def test_deny_closes_only_the_denied(room):
    host, _, _ = join(room, "user:1", "王", HOST)
    party, _, _ = join(room, "party:1", "张三", "party")
    effects = room.handle(host.pid, msg("deny", pid=party.pid))
    assert Close(party.pid, "denied") in effects
    assert party.pid not in room.members and host.pid in room.members
    assert refuse(room, host.pid, msg("deny", pid=party.pid)) == p.NO_SUCH_PARTICIPANT


def test_caucus_move_and_return(room):
    host, _, _ = join(room, "user:1", "王", HOST)
    a, _, _ = join(room, "party:1", "张三", "party")
    b, _, _ = join(room, "party:2", "李四", "party")
    room.handle(host.pid, msg("admit", pid=a.pid))
    room.handle(host.pid, msg("admit", pid=b.pid))
    assert Place(a.pid, "caucus-a") in room.handle(
        host.pid, msg("move", pid=a.pid, room="caucus-a")
    )
    room.handle(host.pid, msg("move", pid=host.pid, room="caucus-a"))
    assert room.rooms() == ["main", "caucus-a"]
    # Each side sees only its own room: B, left in main, no longer sees A or the host.
    assert {x.pid for x in room.view(b.pid).people} == {b.pid}
    assert {x.pid for x in room.view(a.pid).people} == {a.pid, host.pid}
    assert refuse(room, host.pid, msg("move", pid=a.pid, room="caucus-a")) == p.BAD_STATE
    # Bring back.
    room.handle(host.pid, msg("move", pid=a.pid, room=MAIN))
    room.handle(host.pid, msg("move", pid=host.pid, room=MAIN))
    assert {x.pid for x in room.view(b.pid).people} == {a.pid, b.pid, host.pid}
    assert room.rooms() == ["main"]


def test_remove_mute_and_agreement(room):
    host, _, _ = join(room, "user:1", "王", HOST)
    staff, _, _ = join(room, "user:2", "office", "staff")
    room.handle(host.pid, msg("admit", pid=staff.pid))
    effects = room.handle(host.pid, msg("mute_request", pid=staff.pid))
    assert effects == [Send(staff.pid, MuteRequested(by="王"))]
    effects = room.handle(host.pid, msg("agreement.show", agreement_id=5))
    assert {e.pid for e in effects if isinstance(e, Send)} == {host.pid, staff.pid}
    assert refuse(room, host.pid, msg("remove", pid=host.pid)) == p.BAD_STATE
    assert refuse(room, host.pid, msg("mute_request", pid=host.pid)) == p.BAD_STATE
    effects = room.handle(host.pid, msg("remove", pid=staff.pid))
    assert Close(staff.pid, "removed") in effects and staff.pid not in room.members
    co_host, _, _ = join(room, "user:3", "李法官", HOST)
    assert refuse(room, host.pid, msg("remove", pid=co_host.pid)) == p.NOT_ALLOWED


def test_media_state_and_leave(room):
    host, _, _ = join(room, "user:1", "王", HOST)
    room.handle(host.pid, msg("media", audio=False, video=True, screen=True))
    you = room.view(host.pid).you
    assert (you.audio, you.video, you.screen) == (False, True, True)
    effects = room.handle(host.pid, msg("leave"))
    assert Close(host.pid, "left") in effects and room.members == {}


def test_end_closes_everyone_and_refuses_joins(room):
    host, _, _ = join(room, "user:1", "王", HOST)
    party, _, _ = join(room, "party:1", "张三", "party")
    effects = room.handle(host.pid, msg("end"))
    assert {e.pid for e in effects if isinstance(e, Close)} == {host.pid, party.pid}
    assert all(e.reason == "ended" for e in effects if isinstance(e, Close))
    assert room.ended
    with pytest.raises(p.ProtocolError) as err:
        room.join("party:2", "李四", "party")
    assert err.value.code == p.SESSION_ENDED


def test_resume_within_window_keeps_place(room, clock):
    host, _, _ = join(room, "user:1", "王", HOST)
    party, _, _ = join(room, "party:1", "张三", "party")
    room.handle(host.pid, msg("admit", pid=party.pid))
    room.handle(host.pid, msg("move", pid=party.pid, room="caucus-1"))
    assert Place(party.pid, None) in room.drop(party.pid)
    assert room.view(host.pid).people[1].connected is False
    clock.now += 59
    again, resumed, effects = join(room, "party:1", "张三", "party", party.resume)
    assert resumed and again.place == "caucus-1" and again.pid != party.pid
    assert Place(again.pid, "caucus-1") in effects
    assert again.resume != party.resume  # a token is good for one resume
    assert party.pid not in room.members


def test_resume_after_window_goes_to_lobby(room, clock):
    host, _, _ = join(room, "user:1", "王", HOST)
    party, _, _ = join(room, "party:1", "张三", "party")
    room.handle(host.pid, msg("admit", pid=party.pid))
    room.drop(party.pid)
    clock.now += 61
    again, resumed, _ = join(room, "party:1", "张三", "party", party.resume)
    assert not resumed and again.place is None


def test_dropped_participant_forgotten_after_window(room, clock):
    host, _, _ = join(room, "user:1", "王", HOST)
    party, _, _ = join(room, "party:1", "张三", "party")
    room.drop(party.pid)
    clock.now += 60
    assert room.expire() == []
    clock.now += 1
    assert room.expire() and party.pid not in room.members
    assert room.view(host.pid).lobby_count == 0


def test_resume_token_is_bound_to_identity(room):
    host, _, _ = join(room, "user:1", "王", HOST)
    party, _, _ = join(room, "party:1", "张三", "party")
    room.handle(host.pid, msg("admit", pid=party.pid))
    room.drop(party.pid)
    thief, resumed, _ = join(room, "party:2", "李四", "party", party.resume)
    assert not resumed and thief.place is None
    wrong, resumed, _ = join(room, "party:1", "张三", "party", "not-the-token")
    assert not resumed and wrong.place is None


def test_resume_token_is_bound_to_the_link_it_came_by(room):
    """A party's token is good only with the invite link it was given on (a stored token
    names that link in the browser); the same party on another link starts in the lobby."""
    host, _, _ = join(room, "user:1", "王", HOST)
    party, _, _ = room.join("party:1", "张三", "party", None, via="invite:1")
    room.handle(host.pid, msg("admit", pid=party.pid))
    room.drop(party.pid)
    other, resumed, _ = room.join("party:1", "张三", "party", party.resume, via="invite:2")
    assert not resumed and other.place is None
    room.drop(other.pid)
    again, resumed, _ = room.join("party:1", "张三", "party", other.resume, via="invite:1")
    assert not resumed and again.place is None  # a token of link 2 does not open link 1
    room.drop(again.pid)
    back, resumed, _ = room.join("party:1", "张三", "party", again.resume, via="invite:1")
    assert resumed and back.place is None and back.via == "invite:1"


def test_second_connection_replaces_the_first(room):
    host, _, _ = join(room, "user:1", "王", HOST)
    again, resumed, effects = join(room, "user:1", "王", HOST, host.resume)
    assert resumed and Close(host.pid, "replaced") in effects
    assert list(room.members) == [again.pid]


@pytest.mark.parametrize("role", ["staff", "party", "guest"])
@pytest.mark.parametrize("kind", sorted(HOST_ONLY))
def test_every_host_message_refused_for_other_roles(room, role, kind):
    host, _, _ = join(room, "user:1", "王", HOST)
    other, _, _ = join(room, "x:2", "someone", role)
    room.handle(host.pid, msg("admit", pid=other.pid))
    bodies = {
        "admit": {"pid": host.pid},
        "deny": {"pid": host.pid},
        "remove": {"pid": host.pid},
        "move": {"pid": other.pid, "room": "caucus-x"},
        "mute_request": {"pid": host.pid},
        "end": {},
        "agreement.show": {"agreement_id": 1},
        "document.show": {"document_id": 1},
        "guest.caucus": {"pid": other.pid, "allow": True},
    }
    before = {pid: m.place for pid, m in room.members.items()}
    assert refuse(room, other.pid, msg(kind, **bodies[kind])) == p.NOT_ALLOWED
    # Refused, nothing changed, nobody dropped.
    assert {pid: m.place for pid, m in room.members.items()} == before
    assert not room.ended


def test_messages_from_unknown_or_dropped_refused(room):
    host, _, _ = join(room, "user:1", "王", HOST)
    assert refuse(room, "p000000000000", msg("leave")) == p.NOT_JOINED
    room.drop(host.pid)
    assert refuse(room, host.pid, msg("end")) == p.NOT_JOINED


def test_a_party_can_tell_where_the_mediator_is(room, clock):
    """What the room's notice (web/static/js/room_status.js) reads from the roster: a host
    present but not among the people of my room is with someone in another room (not which
    one); a host among them is with me; no host present is the mediator gone."""
    host, _, _ = join(room, "user:1", "王调解员", HOST)
    a, _, _ = join(room, "party:1", "张三", "party")
    b, _, _ = join(room, "party:2", "李四", "party")
    room.handle(host.pid, msg("admit", pid=a.pid))
    room.handle(host.pid, msg("admit", pid=b.pid))
    room.handle(host.pid, msg("move", pid=a.pid, room="caucus-1"))
    room.handle(host.pid, msg("move", pid=host.pid, room="caucus-1"))

    def facts(pid):
        view = room.view(pid)
        with_me = any(x.role == HOST and x.connected for x in view.people)
        return with_me, any(h.present for h in view.hosts), view.rooms

    assert facts(a.pid) == (True, True, ["caucus-1"])  # taken aside, with the mediator
    assert facts(b.pid) == (False, True, ["main"])  # left waiting: the host is elsewhere
    room.drop(host.pid)
    assert facts(a.pid) == (False, False, ["caucus-1"])  # the mediator's connection dropped
    assert facts(b.pid) == (False, False, ["main"])


def test_document_show_goes_to_the_hosts_room_only(room):
    host, _, _ = join(room, "user:1", "王", HOST)
    party, _, _ = join(room, "party:1", "张三", "party")
    other, _, _ = join(room, "party:2", "李四", "party")
    for who in (party, other):
        room.handle(host.pid, msg("admit", pid=who.pid))
    room.handle(host.pid, msg("move", pid=other.pid, room="caucus-1"))
    effects = room.handle(host.pid, msg("document.show", document_id=7))
    sends = {e.pid: e.message for e in effects if isinstance(e, Send)}
    assert set(sends) == {host.pid, party.pid}  # not the one in the caucus room
    assert sends[party.pid] == DocumentShown(document_id=7, by="王")
    assert [e for e in effects if isinstance(e, Shown)] == [
        Shown(host.pid, 7, MAIN, (host.pid, party.pid))
    ]
    assert refuse(room, party.pid, msg("document.show", document_id=7)) == p.NOT_ALLOWED
    assert "document.show" in HOST_ONLY
    with pytest.raises(p.ProtocolError):
        msg("document.show", document_id=0)
