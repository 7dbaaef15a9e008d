"""The signaling WebSocket through the real app: who may connect, and the host's flow with
real aiortc peers as the participants (answering the server's offers, publishing a
pre-encoded VP8 clip and Opus, counting what arrives below the jitter buffer)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from _ice import local_configuration
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import InvalidStateError
from sqlalchemy import select

from server.models.base import utcnow
from server.models.docket import Case
from server.models.sessions import Invite, MediationSession
from server.sessions import create_invite, create_session, revoke_invite
from server.web.keys import SESSIONMAKER, SETTINGS
from signaling import protocol as p
from signaling.hub import HUB
from signaling.server_messages import (
    Ack,
    Bye,
    Error,
    MuteRequested,
    Offer,
    State,
    Welcome,
    parse_server,
)
from signaling.sfu.aiortc_hook.transceivers import intercept_receiver
from tests.helpers import login, make_user, unit
from tests.sfu_peers import Received, clip_tracks
from tests.test_invites import make_case
from tests.waiting import wait_for

ORIGIN = "http://127.0.0.1:8080"


class WsPeer:
    """A participant: one WebSocket, and (with ``media``) one aiortc peer connection that
    answers every offer, publishes the clip and records what it receives."""

    def __init__(self, http: aiohttp.ClientSession, url: str, *, media: bool = False) -> None:
        self.http, self.url, self.media = http, url, media
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.messages: list[Any] = []
        self.pc: RTCPeerConnection | None = None
        self.tracks: dict[str, dict[str, str]] = {}
        self.received: dict[str, Received] = {}
        self.players: list[Any] = []
        self._reader: asyncio.Task[None] | None = None
        self._answering = asyncio.Lock()
        self._rid = 0

    async def connect(self, **headers: str) -> None:
        self.ws = await self.http.ws_connect(self.url, headers={"Origin": ORIGIN, **headers})
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        async for frame in self.ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue  # the server only ever sends text; anything else is not a message
            msg = parse_server(frame.data)
            self.messages.append(msg)
            if isinstance(msg, Welcome):
                await self._new_pc()
            elif isinstance(msg, Offer) and self.media:
                async with self._answering:
                    try:
                        await self._answer(msg)
                    except aiohttp.ClientConnectionResetError:
                        return  # this side is hanging up
                    except InvalidStateError:
                        return  # the server's end of the media went away (its node stopped)

    async def _new_pc(self) -> None:
        if self.pc is not None:
            await self.pc.close()
        self.pc, self.received, self.tracks = RTCPeerConnection(local_configuration()), {}, {}
        if self.media:
            tracks = clip_tracks()
            self.players += tracks
            for track in tracks:
                self.pc.addTrack(track)

    async def _answer(self, offer: Offer) -> None:
        assert self.pc is not None
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
        self.tracks = dict(offer.tracks)
        for t in self.pc.getTransceivers():
            if t.mid is not None and t.mid not in self.received:
                box = self.received.setdefault(t.mid, Received())
                intercept_receiver(t.receiver, lambda pkt, box=box: box.packets.append(pkt))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.send("answer", sdp=self.pc.localDescription.sdp)

    @property
    def reader_done(self) -> bool:
        """The socket is no longer read: closed, or cut off."""
        return self._reader is not None and self._reader.done()

    async def send(self, kind: str, **body: Any) -> int:
        assert self.ws is not None
        self._rid += 1  # unique per socket, so a reply is never mistaken for another's
        rid = self._rid
        await self.ws.send_str(json.dumps({"v": 1, "type": kind, "id": rid, **body}))
        return rid

    async def hello(self, **body: Any) -> Any:
        """Connect, say hello, and return the server's welcome."""
        await self.connect()
        await self.send("hello", **body)
        return await self.wait(lambda m: isinstance(m, Welcome))

    async def reply(self, kind: str, **body: Any) -> Any:
        """Send and wait for the ack or error naming this request."""
        rid = await self.send(kind, **body)
        return await self.wait(lambda m: getattr(m, "re", None) == rid and m.type != "pong")

    async def wait(self, pred: Any, within: float = 20.0) -> Any:
        def seen() -> bool:
            return any(pred(m) for m in self.messages)

        seen.__name__ = getattr(pred, "__name__", "message")
        await wait_for(seen, within)
        return [m for m in self.messages if pred(m)][-1]

    def last(self, kind: type) -> Any:
        return [m for m in self.messages if isinstance(m, kind)][-1]

    def got_from(self, pid: str, source: str) -> int:
        mids = [m for m, i in self.tracks.items() if i == {"pid": pid, "source": source}]
        return sum(len(self.received.get(m, Received()).packets) for m in mids)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await self._reader
        for track in self.players:
            track.stop()
        if self.pc is not None:
            await self.pc.close()


async def _session_with_invites(client):
    med = await make_user(client, "med", "mediator", display_name="王调解员")
    case_id = await make_case(client, mediator_id=med.id)
    async with unit(client.app, med) as ctx:
        case = await ctx.db.get(Case, case_id)
        session = await create_session(ctx, case, kind="mediation")
        _inv, url = await create_invite(ctx, session, case.parties[0])
    return med, case_id, session.id, url.rsplit("/", 1)[1]


async def _second_invite(client, med, case_id: int, session_id: int) -> str:
    """The token of an invitation for the case's second party (the respondent, 李四)."""
    async with unit(client.app, med) as ctx:
        case = await ctx.db.get(Case, case_id)
        session = await ctx.db.get(MediationSession, session_id)
        assert case is not None and session is not None
        _inv, url = await create_invite(ctx, session, case.parties[1])
    return url.rsplit("/", 1)[1]


@asynccontextmanager
async def host_and_party(client) -> AsyncIterator[tuple[WsPeer, WsPeer, int, int]]:
    """The mediator logged in and the first party by their link, both sockets with media, on
    a new session: (host, party, session id, case id); both closed when the block ends.
    Neither has connected yet."""
    _med, case_id, sid, token = await _session_with_invites(client)
    url = client.make_url(f"/ws/sessions/{sid}")
    await login(client, "med")
    host = WsPeer(client.session, url, media=True)
    async with aiohttp.ClientSession() as anon:
        party = WsPeer(anon, f"{url}?invite={token}", media=True)
        try:
            yield host, party, sid, case_id
        finally:
            await party.close()
            await host.close()


async def refused(http: aiohttp.ClientSession, url: str, **headers: str) -> int:
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await http.ws_connect(url, headers={"Origin": ORIGIN, **headers})
    return err.value.status


# --- who may connect -----------------------------------------------------------------------


async def test_auth_cookie_invite_and_refusals(client):
    _med, case_id, sid, token = await _session_with_invites(client)
    url = client.make_url(f"/ws/sessions/{sid}")
    async with aiohttp.ClientSession() as anon:
        # No credentials at all.
        assert await refused(anon, url) == 401
        # The party's link works for its own session...
        party = WsPeer(anon, f"{url}?invite={token}")
        await party.connect()
        err = await party.reply("hello")  # no name typed
        assert isinstance(err, Error) and err.code == p.NAME_MISMATCH
        err = await party.reply("hello", name="李四")  # the other party's name
        assert err.code == p.NAME_MISMATCH
        await party.send("hello", name=" 张 三 ")
        welcome = await party.wait(lambda m: isinstance(m, Welcome))
        assert welcome.role == "party" and welcome.place is None and welcome.name == "张三"
        await party.close()
        # ...and not for another session of the same case.
        async with unit(client.app, _med) as ctx:
            case = await ctx.db.get(Case, case_id)
            second = await create_session(ctx, case, kind="mediation")
        second_id = second.id
        wrong = client.make_url(f"/ws/sessions/{second_id}?invite={token}")
        assert await refused(anon, wrong) == 403
        # A tampered token.
        assert await refused(anon, f"{url}?invite={token[:-3]}xyz") == 401

    await login(client, "med")
    # The mediator's own cookie, from a page of another site: refused.
    assert await refused(client.session, url, Origin="https://evil.example") == 403
    host = WsPeer(client.session, url)
    await host.connect()
    await host.send("hello")
    welcome = await host.wait(lambda m: isinstance(m, Welcome))
    assert welcome.role == "host" and welcome.place == "main"
    assert welcome.ice_servers == client.app[SETTINGS].ice_servers
    await host.close()
    async with client.app[SESSIONMAKER]() as db:
        assert (await db.get(MediationSession, sid)).status == "open"


async def test_revoked_expired_and_other_office_refused(client):
    med, _case_id, sid, token = await _session_with_invites(client)
    await make_user(client, "far", "office_staff", office="qiaotou")
    await make_user(client, "near", "office_staff", office="center")
    url = client.make_url(f"/ws/sessions/{sid}")
    async with client.app[SESSIONMAKER]() as db:
        invite = await db.scalar(select(Invite).where(Invite.session_id == sid))
        invite.expires_at = utcnow() - timedelta(seconds=1)
        await db.commit()
    async with aiohttp.ClientSession() as anon:
        assert await refused(anon, f"{url}?invite={token}") == 403
        async with unit(client.app, med) as ctx:
            invite = await ctx.db.scalar(select(Invite).where(Invite.session_id == sid))
            invite.expires_at = utcnow() + timedelta(hours=1)
            await revoke_invite(ctx, invite)
        assert await refused(anon, f"{url}?invite={token}") == 403
    await login(client, "far")
    assert await refused(client.session, url) == 404
    client.session.cookie_jar.clear()
    await login(client, "near")
    staff = WsPeer(client.session, url)
    await staff.connect()
    # Anything but hello before joining is refused, and the socket stays up.
    refusal = await staff.reply("media", audio=False, video=False, screen=False)
    assert isinstance(refusal, Error) and refusal.code == p.NOT_JOINED
    assert staff.ws is not None and not staff.ws.closed
    await staff.send("hello")
    welcome = await staff.wait(lambda m: isinstance(m, Welcome))
    assert welcome.role == "staff" and welcome.place is None  # staff wait in the lobby too
    await staff.close()


# --- the host's flow with media ------------------------------------------------------------


async def test_host_flow_with_real_peers(client):
    async with host_and_party(client) as (host, party, sid, _case_id):
        await host.connect()
        await host.send("hello")
        h = await host.wait(lambda m: isinstance(m, Welcome))
        await party.connect()
        early = await party.reply("media", audio=True, video=True, screen=False)
        assert isinstance(early, Error) and early.code == p.NOT_JOINED
        await party.send("hello", name="张三")
        w = await party.wait(lambda m: isinstance(m, Welcome))
        assert w.place is None
        lobby = await party.wait(lambda m: isinstance(m, State))
        assert [(x.name, x.present) for x in lobby.hosts] == [("王调解员", True)]
        await host.wait(lambda m: isinstance(m, State) and m.lobby_count == 1)

        # A party may not use the host's controls: refused, nothing dropped.
        for kind, body in [("admit", {"pid": w.pid}), ("end", {}),
                           ("move", {"pid": h.pid, "room": "caucus-1"})]:  # fmt: skip
            answer = await party.reply(kind, **body)
            assert isinstance(answer, Error) and answer.code == p.NOT_ALLOWED

        assert isinstance(await host.reply("admit", pid=w.pid), Ack)
        await party.wait(lambda m: isinstance(m, State) and m.you.place == "main")

        def both_see_each_other() -> bool:
            return host.got_from(w.pid, "camera") > 20 and party.got_from(h.pid, "camera") > 20

        await wait_for(both_see_each_other)
        assert host.got_from(w.pid, "audio") > 0 and party.got_from(h.pid, "audio") > 0

        # Caucus: the party alone in a private room; media with the main room stops.
        await host.reply("move", pid=w.pid, room="caucus-1")
        await party.wait(lambda m: isinstance(m, State) and m.you.place == "caucus-1")

        def party_sees_nobody() -> bool:
            return not party.tracks

        def host_sees_nobody() -> bool:
            return not host.tracks

        await wait_for(party_sees_nobody)
        await wait_for(host_sees_nobody)
        before = {m: len(r.packets) for m, r in party.received.items()}
        await asyncio.sleep(1.0)
        after = {m: len(r.packets) for m, r in party.received.items()}
        assert after == before, "media still reaches the caucus room from the main room"

        # Bring back: media flows again (a fresh keyframe for the returning subscriber).
        await host.reply("move", pid=w.pid, room="main")
        mark = party.got_from(h.pid, "camera")

        def flowing_again() -> bool:
            return party.got_from(h.pid, "camera") > mark + 20

        await wait_for(flowing_again)

        await host.reply("mute_request", pid=w.pid)
        asked = await party.wait(lambda m: isinstance(m, MuteRequested))
        assert asked.by == "王调解员"

        await host.reply("end")
        for peer in (host, party):
            bye = await peer.wait(lambda m: isinstance(m, Bye))
            assert bye.reason == "ended"
        async with client.app[SESSIONMAKER]() as db:
            assert (await db.get(MediationSession, sid)).status == "ended"
        assert client.app[HUB].stats()["sessions"] == 0


async def test_resume_keeps_place_and_remove(client):
    _med, _case_id, sid, token = await _session_with_invites(client)
    url = client.make_url(f"/ws/sessions/{sid}")
    await login(client, "med")
    host = WsPeer(client.session, url, media=True)
    async with aiohttp.ClientSession() as anon:
        party = WsPeer(anon, f"{url}?invite={token}", media=True)
        again = WsPeer(anon, f"{url}?invite={token}", media=True)
        try:
            await host.connect()
            await host.send("hello")
            h = await host.wait(lambda m: isinstance(m, Welcome))
            await party.connect()
            await party.send("hello", name="张三")
            w = await party.wait(lambda m: isinstance(m, Welcome))
            await host.reply("admit", pid=w.pid)
            await host.reply("move", pid=w.pid, room="caucus-2")
            await party.wait(lambda m: isinstance(m, State) and m.you.place == "caucus-2")
            await host.reply("move", pid=h.pid, room="caucus-2")

            # The party's connection drops; it comes back with its resume token.
            await party.close()
            await host.wait(
                lambda m: (
                    isinstance(m, State)
                    and any(x.pid == w.pid and not x.connected for x in m.people)
                )
            )
            await again.connect()
            await again.send("hello", name="张三", resume=w.resume)
            back = await again.wait(lambda m: isinstance(m, Welcome))
            assert back.resumed and back.place == "caucus-2" and back.pid != w.pid

            def media_resumed() -> bool:
                return (
                    again.got_from(h.pid, "camera") > 10 and host.got_from(back.pid, "camera") > 10
                )

            await wait_for(media_resumed)

            await host.reply("remove", pid=back.pid)
            bye = await again.wait(lambda m: isinstance(m, Bye))
            assert bye.reason == "removed"
            await host.wait(lambda m: isinstance(m, State) and len(m.people) == 1)
        finally:
            await again.close()
            await host.close()


async def test_heartbeat_timeout_then_lobby_after_resume_window(client):
    """The hub's clock is injected: a silent socket is closed at the next heartbeat, its
    place is kept for 60 s, and after that the person is forgotten (lobby on return)."""
    _med, _case_id, sid, token = await _session_with_invites(client)
    url = client.make_url(f"/ws/sessions/{sid}")
    hub = client.app[HUB]
    now = [1000.0]
    hub.clock = lambda: now[0]
    await login(client, "med")
    host = WsPeer(client.session, url)
    async with aiohttp.ClientSession() as anon:
        party = WsPeer(anon, f"{url}?invite={token}")
        again = WsPeer(anon, f"{url}?invite={token}")
        try:
            await host.connect()
            await host.send("hello")
            await host.wait(lambda m: isinstance(m, Welcome))
            await party.connect()
            await party.send("hello", name="张三")
            w = await party.wait(lambda m: isinstance(m, Welcome))
            await host.reply("admit", pid=w.pid)
            await party.wait(lambda m: isinstance(m, State) and m.you.place == "main")

            # Both sockets fall silent for longer than the timeout.
            now[0] += 31
            await hub.beat()
            for peer in (host, party):
                bye = await peer.wait(lambda m: isinstance(m, Bye))
                assert bye.reason == "timeout"

            # Within 60 s of the drop the party would get its place back; after, it is gone.
            now[0] += 61
            await hub.beat()
            assert sid not in hub.live  # nobody left: the live room is freed
            await again.connect()
            await again.send("hello", name="张三", resume=w.resume)
            back = await again.wait(lambda m: isinstance(m, Welcome))
            assert not back.resumed and back.place is None
        finally:
            await again.close()
            await party.close()
            await host.close()
