"""Shutting the server down while people are in a live session (a restart, a deploy).

aiohttp's runner stops listening, runs ``on_shutdown``, then waits for every request still
in progress (up to its shutdown timeout) and only then runs the cleanup contexts. A session's
WebSocket is a request that never finishes by itself: the live side must send everyone away
at shutdown (close code 1001, going away; their peer connections closed), or the process
hangs on them until aiohttp gives up and cuts the sockets. The recordings still close as
``shutdown``, not as tracks that ended because the peers below were closed.
"""

from __future__ import annotations

import pytest
from aiohttp import WSCloseCode
from sqlalchemy import select

from server.live import RECORDINGS
from server.models.recordings import RecordingSegment
from server.web.keys import ENGINE, SESSIONMAKER
from signaling.hub import HUB, Hub
from tests.hub_peers import HubPeer
from tests.test_signaling_ws import host_and_party
from tests.waiting import wait_for


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_shutdown_sends_live_participants_away(client):
    async with host_and_party(client) as (host, party, _sid, _case_id):
        await host.hello()
        await party.hello(name="张三")  # in the lobby: a socket, no room yet
        hub = client.app[HUB]
        sfu = hub.sfu
        recorder = client.app[RECORDINGS].recorder

        def host_recorded() -> bool:
            return any(track.recording for track in recorder.tracks.values())

        await wait_for(host_recorded, 30.0)
        maker = client.app[SESSIONMAKER]

        await client.server.close()

        # Closed by the server, going away (a socket cut after a timeout reads 1006).
        assert host.ws is not None and host.ws.close_code == WSCloseCode.GOING_AWAY
        assert party.ws is not None and party.ws.close_code == WSCloseCode.GOING_AWAY
        assert hub.stats() == {"sessions": 0, "connections": 0}
        assert sfu.stats() == {}  # every peer connection closed
        async with maker() as db:
            reasons = set((await db.scalars(select(RecordingSegment.end_reason))).all())
        assert reasons == {"shutdown"}
        # That read opened a connection after the stop had closed them all: closed here.
        await client.app[ENGINE].dispose()


async def test_a_socket_that_joins_after_shutdown_is_sent_away(sfu):
    """A handshake still in progress when the hub closed (its database lookups done after
    shutdown began) finds no room to join: going away, and no peer left in the SFU."""
    hub = Hub(sfu, ice_servers=[])
    hub.start()
    await hub.close()
    late = HubPeer(hub, 1, name="王调解员", role="host", user_id=1)
    assert not await hub.join(1, late.conn, host_name="", resume=None)
    await wait_for(lambda: late.socket.closed is not None)
    await late.conn.stop()  # as the socket's handler does once the socket closed
    assert late.socket.closed == WSCloseCode.GOING_AWAY
    assert late.messages == []
    assert hub.stats() == {"sessions": 0, "connections": 0}
    assert sfu.stats() == {}
