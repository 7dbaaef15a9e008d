"""Signaling under abuse, through the real app and real WebSocket clients: a flood from the
lobby, anything but ``hello`` before joining, malformed frames, a session id no row can have,
a receiver that never reads: each is refused or ends only the one it concerns, and the others
in the room are still served. The live room these tests (and
``tests/test_signaling_withdrawn.py``) open is here: ``Room``."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from server.models.docket import Case
from server.sessions import create_invite, create_session
from signaling import protocol as p
from signaling.hub import HUB
from signaling.server_messages import Bye, Error, ServerPong, State, Welcome
from tests.helpers import login, make_user, served_token, unit
from tests.test_invites import make_case
from tests.test_signaling_ws import WsPeer
from tests.waiting import wait_for


async def bearer(client: TestClient, username: str) -> str:
    """An API token, fetched the way a non-browser client would (then no cookies kept)."""
    return await served_token(client.session, str(client.make_url("")), username)


class Room:
    """A live session with a host (cookie), a staff member (bearer token) and a party
    (invite link), each on a real WebSocket."""

    def __init__(self, client: TestClient, http: aiohttp.ClientSession) -> None:
        self.client, self.http = client, http
        self.peers: list[WsPeer] = []

    async def open(self) -> None:
        client = self.client
        self.med = await make_user(client, "med", "mediator", display_name="王调解员")
        self.judge = await make_user(client, "judge", "judge", display_name="赵法官")
        self.staff_user = await make_user(client, "near", "office_staff")
        self.case_id = await make_case(client, mediator_id=self.med.id, judge_id=self.judge.id)
        async with unit(client.app, self.med) as ctx:
            case = await ctx.db.get(Case, self.case_id)
            session = await create_session(ctx, case, kind="mediation")
            invite, url = await create_invite(ctx, session, case.parties[0])
        self.sid, self.invite_id = session.id, invite.id
        self.url = client.make_url(f"/ws/sessions/{self.sid}")
        staff_token = await bearer(client, "near")
        self.judge_token = await bearer(client, "judge")
        await login(client, "med")
        self.host = self.peer(client.session, self.url)
        self.staff = self.peer(self.http, self.url)
        self.party = self.peer(self.http, f"{self.url}?invite={url.rsplit('/', 1)[1]}")
        self.h = await self.host.hello()
        await self.staff.connect(Authorization=f"Bearer {staff_token}")
        await self.staff.send("hello")
        self.s = await self.staff.wait(lambda m: isinstance(m, Welcome))
        self.w = await self.party.hello(name="张三")
        await self.host.wait(lambda m: isinstance(m, State) and m.lobby_count == 2)

    def peer(self, http: aiohttp.ClientSession, url: Any) -> WsPeer:
        peer = WsPeer(http, str(url))
        self.peers.append(peer)
        return peer

    async def close(self) -> None:
        for peer in self.peers:
            await peer.close()


@asynccontextmanager
async def open_room(client: TestClient) -> AsyncIterator[Room]:
    async with aiohttp.ClientSession() as http:
        r = Room(client, http)
        try:
            await r.open()
            yield r
        finally:
            await r.close()


@pytest.fixture
async def room(client):
    async with open_room(client) as r:
        yield r


async def pinged(peer: WsPeer) -> None:
    """Ping and wait for the pong naming this ping."""
    rid = await peer.send("ping")
    await peer.wait(lambda m: isinstance(m, ServerPong) and m.re == rid)


def byes(peer: WsPeer) -> list[str]:
    return [m.reason for m in peer.messages if isinstance(m, Bye)]


async def still_served(room: Room, *peers: WsPeer) -> None:
    """Each of ``peers`` is connected and still hears the room: a toggle of the staff
    member reaches the host, and a ping of each is answered."""
    for peer in peers:
        assert peer.ws is not None and not peer.ws.closed, byes(peer)
        await pinged(peer)
    await room.staff.send("media", audio=False, video=False, screen=False)
    await room.host.wait(
        lambda m: (
            isinstance(m, State)
            and any(x.pid == room.s.pid and not x.audio and not x.video for x in m.people)
        )
    )


# --- floods --------------------------------------------------------------------------------


async def test_a_lobby_flood_of_media_frames_leaves_host_and_staff_connected(room: Room):
    party = room.party
    assert party.ws is not None
    for i in range(500):
        body = {"v": 1, "type": "media", "audio": i % 2 == 0, "video": True, "screen": False}
        await party.ws.send_str(json.dumps(body))
    await party.send("ping")

    def party_heard_or_went() -> bool:
        return (
            party.ws is None
            or party.ws.closed
            or any(isinstance(m, ServerPong | Bye) for m in party.messages)
        )

    await wait_for(party_heard_or_went)
    for peer in (room.host, room.staff):
        assert peer.ws is not None and not peer.ws.closed, peer.ws and peer.ws.close_code
    # The flooder was refused (and, for a burst this long, sent away); nobody else suffered.
    refused = [m for m in party.messages if isinstance(m, Error)]
    assert refused and {m.code for m in refused} == {p.RATE_LIMITED}
    await party.wait(lambda m: isinstance(m, Bye) and m.reason == "flood")
    assert byes(room.host) == [] and byes(room.staff) == []
    await still_served(room, room.host, room.staff)
    # Every receiver got at most a few rosters for 500 toggles, not one per toggle.
    states = [m for m in room.host.messages if isinstance(m, State)]
    assert states and len(states) < 100


async def test_anything_but_hello_before_joining_is_refused_and_the_socket_stays_up(room: Room):
    late = room.peer(room.http, room.party.url)  # the same party again, not joined yet
    await late.connect()
    for kind, body in [("media", {"audio": True, "video": True, "screen": False}),
                       ("answer", {"sdp": "v=0"}), ("admit", {"pid": room.w.pid}),
                       ("leave", {}), ("end", {})]:  # fmt: skip
        answer = await late.reply(kind, **body)
        assert isinstance(answer, Error) and answer.code == p.NOT_JOINED, answer
    await pinged(late)
    await late.send("hello", name="张三")
    again = await late.wait(lambda m: isinstance(m, Welcome))
    assert again.pid != room.w.pid
    await room.party.wait(lambda m: isinstance(m, Bye) and m.reason == "replaced")


# --- malformed frames ----------------------------------------------------------------------


async def test_malformed_frames_are_answered_and_the_socket_stays_up(room: Room):
    host = room.host
    assert host.ws is not None
    frames: list[tuple[Any, WSMsgType, str]] = [
        ("[" * 2000 + "]" * 2000, WSMsgType.TEXT, p.BAD_JSON),
        ('{"v": 1, "type": "ping", "x": ' + "[" * 2000 + "]" * 2000 + "}", WSMsgType.TEXT,
         p.BAD_JSON),
        ('{"v": 1, "type": "ping", "id": ' + "5" * 5000 + "}", WSMsgType.TEXT, p.BAD_JSON),
        ('{"v": 1, "type": "ping", "id": 1e999}', WSMsgType.TEXT, p.BAD_JSON),
        ('{"v": 1, "type": "ping", "id": NaN}', WSMsgType.TEXT, p.BAD_JSON),
        ('{"v": 1, "type": ["ping"]}', WSMsgType.TEXT, p.UNKNOWN_TYPE),
        ('{"v": 1, "type": {"a": 1}}', WSMsgType.TEXT, p.UNKNOWN_TYPE),
        ('{"v": [1], "type": "ping"}', WSMsgType.TEXT, p.BAD_VERSION),
        ('{"v": 1, "type": "media", "audio": [], "video": {}, "screen": 1}', WSMsgType.TEXT,
         p.INVALID),
        (b"\xff\xfe\x00garbage", WSMsgType.TEXT, p.BAD_JSON),
        (b'{"v": 1, "type": "ping"}', WSMsgType.BINARY, p.BAD_JSON),
        ("x" * (p.MAX_FRAME_BYTES + 100), WSMsgType.TEXT, p.TOO_LARGE),
        ("", WSMsgType.TEXT, p.BAD_JSON),
        ('"just a string"', WSMsgType.TEXT, p.BAD_JSON),
    ]  # fmt: skip
    assert frames
    for data, kind, code in frames:
        before = len(host.messages)
        raw = data.encode() if isinstance(data, str) else data
        await host.ws.send_frame(raw, kind)

        def answered(before: int = before) -> bool:
            return any(isinstance(m, Error) for m in host.messages[before:])

        await wait_for(answered)
        answer = next(m for m in host.messages[before:] if isinstance(m, Error))
        assert answer.code == code, (str(data)[:60], answer)
        await pinged(host)
    assert byes(host) == []
    await still_served(room, room.host, room.staff, room.party)


# --- a receiver that never reads -----------------------------------------------------------


class DeafClient:
    """A real WebSocket client that, once it has said hello, never reads another byte: its
    receive buffer is as small as the kernel allows, so the server's send buffer fills."""

    def __init__(self, client: TestClient, path: str, token: str) -> None:
        self.client, self.path, self.token = client, path, token
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        self.sock.setblocking(False)

    async def hello(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.client.server.port is not None
        await loop.sock_connect(self.sock, ("127.0.0.1", self.client.server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {self.token}\r\n\r\n"
        )
        await loop.sock_sendall(self.sock, request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await loop.sock_recv(self.sock, 1)
            assert chunk, head
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), head
        await loop.sock_sendall(self.sock, _masked(b'{"v": 1, "type": "hello"}'))

    def close(self) -> None:
        self.sock.close()


def _masked(payload: bytes) -> bytes:
    mask = os.urandom(4)
    assert len(payload) < 126
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + body


async def test_a_receiver_that_never_reads_is_dropped_alone(room: Room):
    # The case's judge is a host of the session too, so the hosts' alarm reaches them.
    deaf = DeafClient(room.client, f"/ws/sessions/{room.sid}", room.judge_token)
    try:
        await deaf.hello()

        def judge_seen(connected: bool) -> Any:
            def seen(m: Any) -> bool:
                return isinstance(m, State) and any(
                    x.name == "赵法官" and x.connected == connected for x in m.people
                )

            return seen

        await room.host.wait(judge_seen(True))
        hub = room.client.app[HUB]
        # ~100 KB a message, to the hosts only: the queue of 256 and the socket buffers
        # (a few MB on loopback) are full after some 300.
        alarm = "录像中断 " * 8000
        for _ in range(1000):
            hub.set_recorded(room.sid, main=False, caucus=False, alarm=alarm)
            await asyncio.sleep(0.02)
            if any(judge_seen(False)(m) for m in room.host.messages):
                break
        await room.host.wait(judge_seen(False), within=5)
    finally:
        deaf.close()
    assert byes(room.host) == [] and byes(room.staff) == [] and byes(room.party) == []
    await still_served(room, room.host, room.staff, room.party)


async def test_a_session_id_no_row_can_have_is_not_found(client):
    await make_user(client, "med", "mediator")
    await login(client, "med")
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.session.ws_connect(client.make_url("/ws/sessions/99999999999999999999"))
    assert err.value.status == 404
