"""The cluster's Redis restarts under a live room: two real ``courtlink serve`` nodes on a
Redis of the test's own (a ``redis-server`` on a free port, with no persistence: it comes
back empty, the hardest case), PostgreSQL, and aiortc peers, the host on the room's node
and the party bridged from the other.

What must hold: both nodes report again; the room stays where it was (its node writes its
placement back, no node places it anew, and its state for a takeover with it); the room goes
on: the host is never disconnected and media flows both ways after the restart; the party,
whose socket is bridged over Redis, is still in the main room, on its socket or (if the
bridge dropped it while Redis was away) after resuming its place as the page does; and a
signaling round trip through the bridge works again.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.app import create_app
from signaling.server_messages import Ack, State, Welcome
from tests.helpers import free_port
from tests.kill_helpers import Server
from tests.test_cluster_nodes import cluster  # noqa: F401 (a fixture)
from tests.test_cluster_processes import bearer, node_env, rejoin, room_node, stop_nodes
from tests.test_signaling_ws import WsPeer, _session_with_invites
from tests.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["postgres"], indirect=True)]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class PrivateRedis:
    """A redis-server of this test's own, so stopping it touches no other test."""

    def __init__(self, tmp: Path) -> None:
        self.port, self.dir = free_port(), tmp
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    if redis.proc is not None and redis.proc.poll() is None:
        redis.kill()


async def _up(redis: Redis) -> bool:
    try:
        return bool(await redis.ping())
    except (RedisError, OSError):
        return False


async def test_a_redis_restart_under_a_live_room(
    aiohttp_client,
    settings,
    tmp_path,
    cluster,  # noqa: F811
    private_redis: PrivateRedis,
) -> None:
    hands = await aiohttp_client(create_app(settings))
    _med, _case, sid, token = await _session_with_invites(hands)
    redis = Redis.from_url(private_redis.url)
    await wait_for(lambda: _up(redis), 10)
    nodes: dict[str, Server] = {}
    for i in range(2):
        node = Server(settings, free_port(), tmp_path / f"node-{i}.log")
        node.env = {**node_env(cluster, f"node-{i}"), "COURTLINK_REDIS_URL": private_redis.url}
        nodes[f"node-{i}"] = node
    peers: list[WsPeer] = []
    try:
        await asyncio.gather(*(n.start() for n in nodes.values()))
        async with aiohttp.ClientSession() as http, aiohttp.ClientSession() as anon:
            auth = f"Bearer {await bearer(http, nodes['node-0'])}"

            def ws(node: str) -> str:
                return f"ws://127.0.0.1:{nodes[node].port}/ws/sessions/{sid}"

            # The host's socket opens on node-0 and places the room; the party goes to the
            # other node and is bridged.
            host, h = await rejoin(http, ws("node-0"), headers_auth=auth)
            peers.append(host)
            home = await room_node(redis, cluster, sid)
            if home != "node-0":  # placed elsewhere (a leftover load): the host moves there
                await host.close()
                host, h = await rejoin(http, ws(home), headers_auth=auth, resume=h.resume)
                peers.append(host)
            other = next(n for n in nodes if n != home)
            party, w = await rejoin(anon, f"{ws(other)}?invite={token}", name="张三")
            peers.append(party)
            assert isinstance(await host.reply("admit", pid=w.pid), Ack)
            await party.wait(lambda m: isinstance(m, State) and m.you.place == "main")
            await wait_for(lambda: host.got_from(w.pid, "camera") > 20)
            await wait_for(lambda: party.got_from(h.pid, "camera") > 20)

            private_redis.kill()
            await asyncio.sleep(2.0)  # the nodes notice: their reports and bus fail
            private_redis.start()
            await wait_for(lambda: _up(redis), 10)

            async def both_report() -> bool:
                keys = [k async for k in redis.scan_iter(match=f"{cluster}:node:*")]
                return len(keys) == 2

            await wait_for(both_report, 15)
            # The room did not move: its node wrote the placement back.
            await wait_for(
                lambda: _holds(redis, cluster, sid, home),
                10,
                what=f"the room's placement back on {home}",
            )
            assert not host.reader_done  # the host, on the room's node, was never cut off
            # ... and its state too, so the room could still move if its node died now.
            await wait_for(lambda: _exists(redis, f"{cluster}:roomstate:{sid}"), 10)

            kept = "resumes" if party.reader_done else "kept its socket"
            print(f"redis restart: the bridged party {kept}")
            if party.reader_done:  # the bridge dropped it while Redis was away: resume
                party, w2 = await rejoin(
                    anon, f"{ws(other)}?invite={token}", name="张三", resume=w.resume
                )
                peers.append(party)
                assert (w2.resumed, w2.place) == (True, "main")
                w = w2
            # A round trip through the bridge, and media both ways, after the restart.
            rid = await party.send("ping")
            await party.wait(lambda m: getattr(m, "re", None) == rid, within=10)
            before = (host.got_from(w.pid, "camera"), party.got_from(h.pid, "camera"))
            await wait_for(lambda: host.got_from(w.pid, "camera") > before[0] + 20, within=20)
            await wait_for(lambda: party.got_from(h.pid, "camera") > before[1] + 20, within=20)
            assert host.last(Welcome).pid == h.pid
    finally:
        for peer in reversed(peers):
            await peer.close()
        await stop_nodes(nodes.values())
        await redis.aclose()


async def _exists(redis: Redis, key: str) -> bool:
    try:
        return bool(await redis.exists(key))
    except (RedisError, OSError):  # Redis coming back
        return False


async def _holds(redis: Redis, cluster: str, sid: int, node: str) -> bool:  # noqa: F811
    try:
        raw = await redis.get(f"{cluster}:room:{sid}")
    except (RedisError, OSError):  # Redis coming back
        return False
    return raw is not None and raw.decode() == node
