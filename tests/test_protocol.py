"""The signaling protocol alone: parsing, serializing and every schema refusal."""

from __future__ import annotations

import json

import pytest

from signaling import protocol as p
from signaling.browser_messages import CLIENT_TYPES, Move, parse_client
from signaling.server_messages import (
    Ack,
    AgreementShown,
    Bye,
    HostOut,
    MuteRequested,
    Offer,
    PersonOut,
    Recording,
    ServerPing,
    ServerPong,
    State,
    Welcome,
    error,
    parse_server,
    serialize,
)


def frame(**data):
    return json.dumps({"v": 1, **data})


def refused(raw) -> p.ProtocolError:
    with pytest.raises(p.ProtocolError) as err:
        parse_client(raw)
    return err.value


def test_every_client_message_parses():
    pid = "p0123456789ab"
    cases = {
        "hello": {"name": "张三", "resume": "x" * 32},
        "answer": {"sdp": "v=0\r\n"},
        "ping": {},
        "pong": {},
        "media": {"audio": False, "video": True, "screen": False},
        "view": {"heights": {pid: 360}, "mode": "low"},
        "leave": {},
        "admit": {"pid": pid},
        "deny": {"pid": pid},
        "remove": {"pid": pid},
        "move": {"pid": pid, "room": "caucus-a"},
        "mute_request": {"pid": pid},
        "end": {},
        "agreement.show": {"agreement_id": 3},
        "document.show": {"document_id": 3},
        "guest.caucus": {"pid": pid, "allow": True},
    }
    assert set(cases) == CLIENT_TYPES
    for kind, body in cases.items():
        msg = parse_client(frame(type=kind, id=7, **body))
        assert msg.type == kind and msg.id == 7
    move = parse_client(frame(type="move", pid=pid, room="main"))
    assert isinstance(move, Move) and move.room == "main" and move.id is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", p.BAD_JSON),
        ("[1, 2]", p.BAD_JSON),
        (b"\xff\xfe", p.BAD_JSON),
        ("x" * (p.MAX_FRAME_BYTES + 1), p.TOO_LARGE),
        ("字" * (p.MAX_FRAME_BYTES // 3 + 1), p.TOO_LARGE),  # the limit is in bytes
        ("[" * 2000 + "]" * 2000, p.BAD_JSON),
        ("[" * (p.MAX_DEPTH + 1) + "]" * (p.MAX_DEPTH + 1), p.BAD_JSON),
        ('{"v": 1, "type": "ping", "id": ' + "5" * 5000 + "}", p.BAD_JSON),
        ('{"v": 1, "type": "ping", "id": 1e999}', p.BAD_JSON),
        ('{"v": 1, "type": "ping", "id": NaN}', p.BAD_JSON),
        ('{"v": 1, "type": "ping", "id": -Infinity}', p.BAD_JSON),
        (b'{"v": 1, "type": "ping", "x": "\xed\xa0\x80"}', p.BAD_JSON),  # a lone surrogate
        ('{"v": 1, "type": ["ping"]}', p.UNKNOWN_TYPE),
        ('{"v": 1, "type": {"a": 1}}', p.UNKNOWN_TYPE),
        ('{"v": [1], "type": "ping"}', p.BAD_VERSION),
        (json.dumps({"type": "ping"}), p.BAD_VERSION),
        (json.dumps({"v": 2, "type": "ping"}), p.BAD_VERSION),
        (frame(type="shout"), p.UNKNOWN_TYPE),
        (frame(), p.UNKNOWN_TYPE),
        (frame(type="ping", extra=1), p.INVALID),
        (frame(type="admit"), p.INVALID),
        (frame(type="admit", pid="../etc"), p.INVALID),
        (frame(type="move", pid="p0123456789ab", room="Caucus 1"), p.INVALID),
        (frame(type="media", audio="yes", video=True, screen=False), p.INVALID),
        (frame(type="view", heights={}, mode="hd"), p.INVALID),
        (frame(type="view", heights={"../x": 1}, mode="full"), p.INVALID),
        (frame(type="view", heights={"p0123456789ab": -1}, mode="full"), p.INVALID),
        (frame(type="view", heights={f"p{i:012x}": 1 for i in range(65)}, mode="full"), p.INVALID),
        (frame(type="hello", name=""), p.INVALID),
        (frame(type="hello", name="x" * 65), p.INVALID),
        (frame(type="hello", resume="续会令牌续会令牌续会"), p.INVALID),  # found by the fuzz
        (frame(type="hello", resume="abc/defgh+ij"), p.INVALID),
        (frame(type="agreement.show", agreement_id=0), p.INVALID),
        (frame(type="ping", id={"a": 1}), p.INVALID),
    ],
)
def test_refusals(raw, code):
    assert refused(raw).code == code


def test_refusal_echoes_request_id():
    err = refused(frame(type="admit", id="req-9"))
    assert err.code == p.INVALID and err.re == "req-9"
    assert "pid" in err.message
    answer = json.loads(error(err))
    assert answer == {
        "v": 1,
        "type": "error",
        "re": "req-9",
        "code": "invalid",
        "message": err.message,
    }


def test_server_messages_round_trip():
    person = PersonOut(pid="p0123456789ab", name="李四", role="party", place=None, connected=True)
    messages = [
        Welcome(
            pid="p0123456789ab",
            role="party",
            name="李四",
            place=None,
            resumed=False,
            resume="r" * 32,
            resume_seconds=60,
            heartbeat_seconds=10,
            ice_servers=[{"urls": "turn:turn.example:3478"}],
        ),
        Offer(sdp="v=0", tracks={"3": {"pid": "p0123456789ab", "source": "camera"}}),
        State(
            you=person,
            hosts=[HostOut(name="王", present=False)],
            people=[person],
            rooms=[],
            lobby_count=1,
        ),
        Ack(re=1),
        ServerPing(),
        ServerPong(re=2),
        MuteRequested(by="王"),
        Bye(reason="denied"),
        AgreementShown(agreement_id=4, by="王"),
        Recording(active=True),
    ]
    for msg in messages:
        raw = serialize(msg)
        assert json.loads(raw)["v"] == 1
        assert parse_server(raw) == msg
    with pytest.raises(p.ProtocolError):
        parse_server(json.dumps({"v": 1, "type": "bye", "reason": "bored"}))


def test_json_within_the_limits_is_read():
    nested = "[" * (p.MAX_DEPTH - 1) + "]" * (p.MAX_DEPTH - 1)  # inside the message's object
    raw = '{"v": 1, "type": "ping", "id": 12345678901234, "x": ' + nested + "}"
    with pytest.raises(p.ProtocolError) as err:
        parse_client(raw)
    assert err.value.code == p.INVALID and err.value.re == 12345678901234  # read, then refused


def test_unknown_type_is_not_echoed_whole():
    err = refused(frame(type="x" * 10_000))
    assert err.code == p.UNKNOWN_TYPE and len(err.message) < 100


def test_a_request_id_that_cannot_be_echoed_is_not():
    err = refused('{"v": 1, "type": "ping", "id": "\\ud800"}')
    assert err.code == p.INVALID and err.re is None
    assert json.loads(error(err))["re"] is None
