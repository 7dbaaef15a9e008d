"""A room taken over by another node when its node stops (server.cluster.roomstate,
``Room.snapshot``/``restore``), on this machine's real Redis and PostgreSQL: the host and an
admitted party, their sockets on node b and their room on node a; node a shuts down (as on
SIGTERM); both are sent away with 1001, reconnect through node b with their resume tokens,
and are back in the main room there: the party without passing the lobby, with media."""

from __future__ import annotations

import json

import aiohttp
import pytest

from server.app import create_app
from server.cluster.roomstate import RoomStore
from server.web.bridge import BRIDGE
from server.web.keys import SETTINGS
from server.web.node import NODE
from signaling.browser_messages import Admit
from signaling.hub import HUB
from signaling.rooms import Room
from signaling.server_messages import Ack, State, Welcome
from tests.helpers import login
from tests.test_cluster_nodes import cluster, node_settings  # noqa: F401
from tests.test_signaling_ws import WsPeer, _session_with_invites
from tests.waiting import wait_for


def test_a_snapshot_restores_places_and_tokens_as_dropped() -> None:
    now = [100.0]
    room = Room(host_name="王调解员", clock=lambda: now[0])
    host, _, _ = room.join("user:1", "王调解员", "host")
    party, _, _ = room.join("party:1", "张三", "party", via="invite:1")
    room.handle(host.pid, Admit(v=1, type="admit", pid=party.pid))
    taken = Room(clock=lambda: now[0])
    taken.restore(room.snapshot())
    assert taken.host_name == "王调解员"
    assert {m.identity: (m.place, m.connected) for m in taken.members.values()} == {
        "user:1": ("main", False),
        "party:1": ("main", False),
    }
    # The party's token by the party's own link gives the place back; a wrong one does not.
    again, resumed, _ = taken.join("party:1", "张三", "party", party.resume, via="invite:1")
    assert resumed and again.place == "main"
    stranger = Room(clock=lambda: now[0])
    stranger.restore(room.snapshot())
    other, resumed, _ = stranger.join("party:1", "张三", "party", "guess", via="invite:1")
    assert not resumed and other.place is None
    # Past the resume window, a taken-over member is forgotten like any dropped one.
    now[0] += taken.resume_seconds + 1
    assert taken.expire() and not [m for m in taken.members.values() if not m.connected]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_stopped_nodes_room_resumes_on_another(aiohttp_client, settings, cluster):  # noqa: F811
    a = await aiohttp_client(create_app(node_settings(settings, cluster, "node-a")))
    b = await aiohttp_client(create_app(node_settings(settings, cluster, "node-b")))
    _med, _case, sid, token = await _session_with_invites(b)
    await login(b, "med")
    # Node b takes no new rooms for a moment, so this one is placed on node a.
    await b.app[NODE].set_draining(True)
    url = b.make_url(f"/ws/sessions/{sid}")
    party_url = f"{url}?invite={token}"
    peers: list[WsPeer] = []
    async with aiohttp.ClientSession() as anon:
        try:
            host = WsPeer(b.session, url)
            peers.append(host)
            h = await host.hello()
            await b.app[NODE].set_draining(False)
            assert a.app[HUB].stats()["sessions"] == 1 and b.app[HUB].stats()["sessions"] == 0
            party = WsPeer(anon, party_url)
            peers.append(party)
            w = await party.hello(name="张三")
            assert isinstance(await host.reply("admit", pid=w.pid), Ack)
            await party.wait(lambda m: isinstance(m, State) and m.you.place == "main")

            await a.close()  # node a stops, as on SIGTERM: its rooms go elsewhere
            for peer in (host, party):
                await wait_for(lambda peer=peer: peer.ws.closed)
                assert peer.ws.close_code == 1001

            host2 = WsPeer(b.session, url)
            peers.append(host2)
            h2 = await host2.hello(resume=h.resume)
            assert h2.resumed and h2.place == "main"
            party2 = WsPeer(anon, party_url, media=True)
            peers.append(party2)
            w2 = await party2.hello(name="张三", resume=w.resume)
            assert isinstance(w2, Welcome) and w2.resumed and w2.place == "main"
            assert b.app[HUB].stats() == {"sessions": 1, "connections": 2}
            state = await host2.wait(
                lambda m: (
                    isinstance(m, State)
                    and {p.name for p in m.people if p.connected} == {"王调解员", "张三"}
                )
            )
            assert not state.lobby_count
        finally:
            for peer in reversed(peers):
                await peer.close()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_an_ended_session_leaves_no_state(aiohttp_client, settings, cluster):  # noqa: F811
    a = await aiohttp_client(create_app(node_settings(settings, cluster, "node-a")))
    _med, _case, sid, _token = await _session_with_invites(a)
    await login(a, "med")
    host = WsPeer(a.session, a.make_url(f"/ws/sessions/{sid}"))
    store = RoomStore(a.app[NODE].redis, a.app[SETTINGS].cluster_name)
    try:
        await host.hello()
        await wait_for_state(store, sid, present=True)
        await host.reply("end")
        await wait_for_state(store, sid, present=False)
    finally:
        await host.close()


async def wait_for_state(store: RoomStore, sid: int, *, present: bool) -> None:
    async def as_wanted() -> bool:
        return (await store.load(sid) is not None) == present

    state = "written" if present else "deleted"
    await wait_for(as_wanted, 5, what=f"room state of {sid} {state}")


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_room_redis_forgot_is_written_back_with_its_state(
    aiohttp_client,
    settings,
    cluster,  # noqa: F811
):
    """Redis restarted empty (tests/test_cluster_redis_restart.py does it for real): on its
    next beat the room's node writes back the room's placement and its state, though the
    room has not changed since, so it can still be taken over."""
    a = await aiohttp_client(create_app(node_settings(settings, cluster, "node-a")))
    _med, _case, sid, _token = await _session_with_invites(a)
    await login(a, "med")
    host = WsPeer(a.session, a.make_url(f"/ws/sessions/{sid}"))
    redis, name = a.app[NODE].redis, a.app[SETTINGS].cluster_name
    store = RoomStore(redis, name)
    try:
        h = await host.hello()
        await wait_for_state(store, sid, present=True)
        await redis.delete(f"{name}:room:{sid}", f"{name}:roomstate:{sid}")
        await a.app[BRIDGE].check()
        assert (await redis.get(f"{name}:room:{sid}")) == b"node-a"
        await wait_for_state(store, sid, present=True)
        saved = await store.load(sid)
        assert saved is not None and h.resume in json.dumps(saved)
        await a.app[BRIDGE].check()  # held, not forgotten: nothing more to write
    finally:
        await host.close()
