"""Signaling under abuse, through the real app and real WebSocket clients: a flood from the
lobby, malformed frames, a receiver that never reads, and access withdrawn while someone is
in the room (an invite revoked, a booking cancelled or moved, the session ended, an account
deactivated): each ends only the one it concerns, with a ``bye`` naming why."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from server.accounts import update_user
from server.models.accounts import User
from server.models.docket import Case
from server.models.sessions import Invite, MediationSession
from server.sessions import create_invite, create_session, end_session, revoke_invite
from signaling import protocol as p
from signaling.hub import HUB
from tests.helpers import PASSWORD, csrf, login, make_user, unit
from tests.sfu_peers import wait_for
from tests.test_booking_support import MONDAY, World, local, start_world
from tests.test_invites import make_case
from tests.test_signaling_ws import WsPeer


async def bearer(client: TestClient, username: str) -> str:
    """An API token, fetched the way a non-browser client would (then no cookies kept)."""
    await client.get("/login")
    resp = await client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": PASSWORD},
        headers={"X-CSRF-Token": csrf(client)},
    )
    assert resp.status == 201, await resp.text()
    client.session.cookie_jar.clear()
    return str((await resp.json())["token"])


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
        self.s = await self.staff.wait(lambda m: isinstance(m, p.Welcome))
        self.w = await self.party.hello(name="张三")
        await self.host.wait(lambda m: isinstance(m, p.State) and m.lobby_count == 2)

    def peer(self, http: aiohttp.ClientSession, url: Any) -> WsPeer:
        peer = WsPeer(http, str(url))
        self.peers.append(peer)
        return peer

    async def close(self) -> None:
        for peer in self.peers:
            await peer.close()


@pytest.fixture
async def room(client):
    async with aiohttp.ClientSession() as http:
        r = Room(client, http)
        try:
            await r.open()
            yield r
        finally:
            await r.close()


async def pinged(peer: WsPeer) -> None:
    """Ping and wait for the pong naming this ping."""
    rid = await peer.send("ping")
    await peer.wait(lambda m: isinstance(m, p.ServerPong) and m.re == rid)


def byes(peer: WsPeer) -> list[str]:
    return [m.reason for m in peer.messages if isinstance(m, p.Bye)]


async def still_served(room: Room, *peers: WsPeer) -> None:
    """Each of ``peers`` is connected and still hears the room: a toggle of the staff
    member reaches the host, and a ping of each is answered."""
    for peer in peers:
        assert peer.ws is not None and not peer.ws.closed, byes(peer)
        await pinged(peer)
    await room.staff.send("media", audio=False, video=False, screen=False)
    await room.host.wait(
        lambda m: (
            isinstance(m, p.State)
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
            or any(isinstance(m, p.ServerPong | p.Bye) for m in party.messages)
        )

    await wait_for(party_heard_or_went)
    for peer in (room.host, room.staff):
        assert peer.ws is not None and not peer.ws.closed, peer.ws and peer.ws.close_code
    # The flooder was refused (and, for a burst this long, sent away); nobody else suffered.
    refused = [m for m in party.messages if isinstance(m, p.Error)]
    assert refused and {m.code for m in refused} == {p.RATE_LIMITED}
    await party.wait(lambda m: isinstance(m, p.Bye) and m.reason == "flood")
    assert byes(room.host) == [] and byes(room.staff) == []
    await still_served(room, room.host, room.staff)
    # Every receiver got at most a few rosters for 500 toggles, not one per toggle.
    states = [m for m in room.host.messages if isinstance(m, p.State)]
    assert states and len(states) < 100


async def test_anything_but_hello_before_joining_is_refused_and_the_socket_stays_up(room: Room):
    late = room.peer(room.http, room.party.url)  # the same party again, not joined yet
    await late.connect()
    for kind, body in [("media", {"audio": True, "video": True, "screen": False}),
                       ("answer", {"sdp": "v=0"}), ("admit", {"pid": room.w.pid}),
                       ("leave", {}), ("end", {})]:  # fmt: skip
        answer = await late.reply(kind, **body)
        assert isinstance(answer, p.Error) and answer.code == p.NOT_JOINED, answer
    await pinged(late)
    await late.send("hello", name="张三")
    again = await late.wait(lambda m: isinstance(m, p.Welcome))
    assert again.pid != room.w.pid
    await room.party.wait(lambda m: isinstance(m, p.Bye) and m.reason == "replaced")


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
            return any(isinstance(m, p.Error) for m in host.messages[before:])

        await wait_for(answered)
        answer = next(m for m in host.messages[before:] if isinstance(m, p.Error))
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
                return isinstance(m, p.State) and any(
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


# --- access withdrawn while in the room ----------------------------------------------------


async def test_revoking_the_invite_sends_the_party_away(room: Room):
    async with unit(room.client.app, room.med) as ctx:
        invite = await ctx.db.get(Invite, room.invite_id)
        await revoke_invite(ctx, invite)
    bye = await room.party.wait(lambda m: isinstance(m, p.Bye))
    assert bye.reason == "revoked"
    await room.host.wait(
        lambda m: isinstance(m, p.State) and all(x.pid != room.w.pid for x in m.people)
    )
    assert byes(room.host) == [] and byes(room.staff) == []
    await still_served(room, room.host, room.staff)


async def test_revoking_the_invite_forgets_a_dropped_party_and_their_token(room: Room):
    """A party whose tab closed keeps their place for the resume window; revoking their link
    forgets that place at once, and the token it gave works on no other link of theirs."""
    await room.host.reply("admit", pid=room.w.pid)
    await room.party.close()
    await room.host.wait(
        lambda m: (
            isinstance(m, p.State)
            and any(x.pid == room.w.pid and not x.connected for x in m.people)
        )
    )
    async with unit(room.client.app, room.med) as ctx:
        invite = await ctx.db.get(Invite, room.invite_id)
        await revoke_invite(ctx, invite)
        _new, url = await create_invite(ctx, invite.session, invite.party)

    def forgotten(_m: Any) -> bool:  # the host's latest roster no longer has the party
        states = [m for m in room.host.messages if isinstance(m, p.State)]
        return all(x.pid != room.w.pid for x in states[-1].people)

    await room.host.wait(forgotten)
    again = room.peer(room.http, f"{room.url}?invite={url.rsplit('/', 1)[1]}")
    back = await again.hello(name="张三", resume=room.w.resume)
    assert not back.resumed and back.place is None


async def test_deactivating_an_account_sends_its_connection_away(room: Room):
    admin = await make_user(room.client, "root", "admin")
    async with unit(room.client.app, admin) as ctx:
        user = await ctx.db.get(User, room.staff_user.id)
        await update_user(ctx, user, active=False)
    bye = await room.staff.wait(lambda m: isinstance(m, p.Bye))
    assert bye.reason == "deactivated"
    assert byes(room.host) == [] and byes(room.party) == []
    await pinged(room.party)


async def test_ending_the_session_outside_the_room_sends_everyone_away(room: Room):
    # Ended as the CLI or a worker would, with no handle on the live rooms.
    async with unit(room.client.app, room.med) as ctx:
        session = await ctx.db.get(MediationSession, room.sid)
        await end_session(ctx, session)
    for peer in (room.host, room.staff, room.party):
        bye = await peer.wait(lambda m: isinstance(m, p.Bye))
        assert bye.reason == "ended"


# --- bookings ------------------------------------------------------------------------------


@pytest.fixture
async def world(aiohttp_client, app) -> World:
    return await start_world(aiohttp_client, app)


async def _booked_room(world: World, http: aiohttp.ClientSession) -> tuple[dict, WsPeer, WsPeer]:
    resp = await world.book(
        "staff_shaping", "shaping", local(MONDAY, 9, 0), 60, host_id=world.users["med_wang"].id
    )
    assert resp.status == 201, await resp.text()
    booking = dict(await resp.json())
    urls = [i["url"] for i in booking["invites"] if i["url"]]
    assert urls
    url = world.client.make_url(f"/ws/sessions/{booking['session_id']}")
    token = await world.token("med_wang")
    host = WsPeer(http, str(url))
    await host.connect(Authorization=f"Bearer {token}")
    await host.send("hello")
    await host.wait(lambda m: isinstance(m, p.Welcome))
    party = WsPeer(http, f"{url}?invite={urls[0].rsplit('/', 1)[1]}")
    await party.hello(name="张三")
    await host.wait(lambda m: isinstance(m, p.State) and m.lobby_count == 1)
    return booking, host, party


async def test_cancelling_a_booking_sends_everyone_in_its_room_away(world: World):
    async with aiohttp.ClientSession() as http:
        booking, host, party = await _booked_room(world, http)
        try:
            resp = await world.api(
                "staff_shaping",
                "POST",
                f"/scheduling/bookings/{booking['id']}/cancel",
                json={"reason": "双方已自行和解"},
            )
            assert resp.status == 200, await resp.text()
            for peer in (host, party):
                bye = await peer.wait(lambda m: isinstance(m, p.Bye))
                assert bye.reason == "cancelled"
        finally:
            await party.close()
            await host.close()


async def test_moving_a_booking_away_sends_everyone_in_its_room_away(world: World):
    async with aiohttp.ClientSession() as http:
        booking, host, party = await _booked_room(world, http)
        try:
            resp = await world.api(
                "staff_shaping",
                "POST",
                f"/scheduling/bookings/{booking['id']}/move",
                json={"starts_at": local(MONDAY, 14, 30), "duration_minutes": 60,
                      "reason": "当事人请假"},
            )  # fmt: skip
            assert resp.status == 200, await resp.text()
            for peer in (host, party):
                bye = await peer.wait(lambda m: isinstance(m, p.Bye))
                assert bye.reason == "moved"
        finally:
            await party.close()
            await host.close()


async def test_a_session_id_no_row_can_have_is_not_found(client):
    await make_user(client, "med", "mediator")
    await login(client, "med")
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await client.session.ws_connect(client.make_url("/ws/sessions/99999999999999999999"))
    assert err.value.status == 404
