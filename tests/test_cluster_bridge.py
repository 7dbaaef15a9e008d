"""The signal bridge (server.web.bridge, signaling.remote) between two nodes on this machine's
real Redis and PostgreSQL, with real aiortc peers: a room placed on one node, a party whose
socket is on the other, admitted, in caucus and back, media both ways, the session ended by
the host; placement by load; access withdrawn on one node ending a connection to a room on
the other; and a browser whose room's node died sent away to reconnect."""

from __future__ import annotations

from contextlib import asynccontextmanager

import aiohttp
import pytest
from sqlalchemy import select

from server.app import create_app
from server.models.docket import Case
from server.models.sessions import Invite, MediationSession
from server.sessions import create_session, revoke_invite
from server.web.bridge import BRIDGE, DEAD_AFTER_BEATS
from server.web.keys import SESSIONMAKER, SUPERVISOR
from server.web.node import NODE
from signaling.hub import HUB
from signaling.server_messages import Ack, Bye, ServerPong, State, Welcome
from tests.helpers import login, unit
from tests.test_cluster_nodes import cluster, node_settings  # noqa: F401 (a fixture)
from tests.test_invites import make_case
from tests.test_signaling_ws import WsPeer, _session_with_invites
from tests.waiting import wait_for

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


async def two_nodes(aiohttp_client, settings, cluster):  # noqa: F811
    a = await aiohttp_client(create_app(node_settings(settings, cluster, "node-a")))
    b = await aiohttp_client(create_app(node_settings(settings, cluster, "node-b")))
    return a, b


def room_node(a, b):
    """(the node the one live room is on, the other node)."""
    return (a, b) if a.app[HUB].stats()["sessions"] else (b, a)


@asynccontextmanager
async def bridged(a, b, *, media: bool = False):
    """The host on node a; the party by their link on the node that does not hold the room
    (with ``media``, both publish the clip): (the host's user, host, party, the room's node,
    the party's node, session id)."""
    med, _case, sid, token = await _session_with_invites(a)
    await login(a, "med")
    host = WsPeer(a.session, a.make_url(f"/ws/sessions/{sid}"), media=media)
    async with aiohttp.ClientSession() as anon:
        party = None
        try:
            await host.hello()
            # Both nodes idle: the room went to either; the party comes in by the other.
            room, other = room_node(a, b)
            url = f"{other.make_url(f'/ws/sessions/{sid}')}?invite={token}"
            party = WsPeer(anon, url, media=media)
            await party.hello(name="张三")
            # The party's socket is on the other node, served by the room's node.
            assert room.app[HUB].stats() == {"sessions": 1, "connections": 2}
            assert other.app[HUB].stats() == {"sessions": 0, "connections": 0}
            assert other.app[BRIDGE].links.links
            yield med, host, party, room, other, sid
        finally:
            if party is not None:
                await party.close()
            await host.close()


async def test_a_party_on_another_node_joins_the_room(aiohttp_client, settings, cluster):  # noqa: F811
    a, b = await two_nodes(aiohttp_client, settings, cluster)
    async with bridged(a, b, media=True) as (_med, host, party, room, other, sid):
        h, w = host.last(Welcome), party.last(Welcome)
        assert w.place is None and w.resume
        await host.wait(lambda m: isinstance(m, State) and m.lobby_count == 1)
        assert isinstance(await host.reply("admit", pid=w.pid), Ack)
        await party.wait(lambda m: isinstance(m, State) and m.you.place == "main")

        def both_see_each_other() -> bool:
            return host.got_from(w.pid, "camera") > 20 and party.got_from(h.pid, "camera") > 20

        await wait_for(both_see_each_other)
        assert party.got_from(h.pid, "audio") > 0 and host.got_from(w.pid, "audio") > 0

        await host.reply("move", pid=w.pid, room="caucus-1")
        await party.wait(lambda m: isinstance(m, State) and m.you.place == "caucus-1")
        await host.reply("move", pid=w.pid, room="main")
        mark = party.got_from(h.pid, "camera")
        await wait_for(lambda: party.got_from(h.pid, "camera") > mark + 20)

        # A ping through the bridge is answered by the room's node.
        rid = await party.send("ping")
        await party.wait(lambda m: isinstance(m, ServerPong) and m.re == rid)

        await host.reply("end")
        for peer in (host, party):
            bye = await peer.wait(lambda m: isinstance(m, Bye))
            assert bye.reason == "ended"
        async with other.app[SESSIONMAKER]() as db:
            assert (await db.get(MediationSession, sid)).status == "ended"
        await wait_for(lambda: party.ws.closed)
        assert party.ws.close_code == 4005
        await wait_for(lambda: not other.app[BRIDGE].links.links)
        await wait_for(lambda: not room.app[BRIDGE].remotes.remotes)


async def test_a_new_room_goes_to_the_least_loaded_node(aiohttp_client, settings, cluster):  # noqa: F811
    a, b = await two_nodes(aiohttp_client, settings, cluster)
    med, _case, first, _t = await _session_with_invites(a)
    await login(a, "med")
    one = WsPeer(a.session, a.make_url(f"/ws/sessions/{first}"))
    two = None
    try:
        await one.hello()
        first_node, other = room_node(a, b)
        await first_node.app[NODE].beat()  # its report now counts the room
        case_id = await make_case(a, mediator_id=med.id)
        async with unit(a.app, med) as ctx:
            session = await create_session(ctx, await ctx.db.get(Case, case_id), kind="mediation")
            second = session.id
        # The host opens the second session through node a; its room starts on the other.
        two = WsPeer(a.session, a.make_url(f"/ws/sessions/{second}"))
        welcome = await two.hello()
        assert welcome.place == "main"
        assert other.app[HUB].stats() == {"sessions": 1, "connections": 1}
        assert first_node.app[HUB].stats() == {"sessions": 1, "connections": 1}
    finally:
        await one.close()
        if two is not None:
            await two.close()


async def test_access_withdrawn_on_one_node_ends_it_on_the_other(aiohttp_client, settings, cluster):  # noqa: F811
    a, b = await two_nodes(aiohttp_client, settings, cluster)
    async with bridged(a, b) as (med, host, party, room, other, sid):
        # The link is revoked on the node that does not hold the room.
        async with unit(other.app, med) as ctx:
            invite = (await ctx.db.scalars(select(Invite).where(Invite.session_id == sid))).one()
            await revoke_invite(ctx, invite)
        bye = await party.wait(lambda m: isinstance(m, Bye))
        assert bye.reason == "revoked"
        assert not any(isinstance(m, Bye) for m in host.messages)
        remotes = room.app[BRIDGE].remotes.remotes  # the host's too, if it is bridged
        await wait_for(lambda: all(r.conn.identity != "party:1" for r in remotes.values()))


async def test_a_dead_room_node_sends_its_bridged_browsers_to_reconnect(
    aiohttp_client,
    settings,
    cluster,  # noqa: F811
):
    a, b = await two_nodes(aiohttp_client, settings, cluster)
    async with bridged(a, b) as (_med, _host, party, room, other, _sid):
        # The room's node stops reporting (as if it died): after a few beats the party's
        # node gives up on it. (Its own beats are stopped, so that this test counts them.)
        await other.app[SUPERVISOR].stop_task("node-bridge")
        await room.app[SUPERVISOR].stop_task("node-registry")
        await room.app[NODE].leave()
        for _ in range(DEAD_AFTER_BEATS - 1):
            await other.app[BRIDGE].check()
        assert party.ws is not None and not party.ws.closed
        await other.app[BRIDGE].check()
        await wait_for(lambda: party.ws.closed)
        assert party.ws.close_code == 1001  # going away: the page reconnects
