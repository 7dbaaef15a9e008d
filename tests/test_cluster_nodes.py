"""Cluster nodes (server.cluster, server.web.node) on this machine's real Redis and PostgreSQL:
two apps on one database register as nodes with their addresses and load, see each other,
report a live room, vanish for the other within a few seconds when they die and at once when
they stop; a cluster on SQLite and an unreachable Redis are refused at start; without Redis
nothing registers. Each test has its own cluster name, so parallel runs never meet."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid

import pytest
from aiohttp import web
from redis.asyncio import Redis

from server.app import create_app
from server.cluster import ClusterConfigError
from server.cluster.registry import DEAD_AFTER_S, Load, NodeInfo, Registry, least_loaded
from server.settings import Settings
from server.web.keys import SUPERVISOR
from server.web.node import NODE
from signaling.hub import HUB
from signaling.server_messages import Welcome
from tests.test_signaling_ws import host_and_party
from tests.waiting import wait_for

REDIS_URL = os.environ.get("COURTLINK_TEST_REDIS", "redis://127.0.0.1:6379/0")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def node_settings(settings: Settings, cluster: str, node_id: str) -> Settings:
    return settings.model_copy(
        update={
            "redis_url": REDIS_URL,
            "cluster_name": cluster,
            "node_id": node_id,
            "node_address": f"{node_id}.court.example",
        }
    )


@pytest.fixture
def cluster() -> str:
    return f"cl-test-{uuid.uuid4().hex[:10]}"


async def ids(registry: Registry) -> list[str]:
    return [n.id for n in await registry.nodes()]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_two_nodes_see_each_other_and_a_room(aiohttp_client, settings, cluster) -> None:
    a = await aiohttp_client(create_app(node_settings(settings, cluster, "node-a")))
    b = await aiohttp_client(create_app(node_settings(settings, cluster, "node-b")))
    seen = await a.app[NODE].nodes()
    assert [n.id for n in seen] == ["node-a", "node-b"]
    assert [n.address for n in seen] == ["node-a.court.example", "node-b.court.example"]
    assert not any(n.draining for n in seen)
    assert await ids(b.app[NODE]) == ["node-a", "node-b"]
    # A room (placed on either node): its node's next report says so, and placement would
    # choose the other.
    async with host_and_party(b) as (host, _party, _sid, _case):
        await host.connect()
        await host.send("hello")
        await host.wait(lambda m: isinstance(m, Welcome))
        room, other = (
            ("node-a", "node-b") if a.app[HUB].stats()["sessions"] else ("node-b", "node-a")
        )
        await (a if room == "node-a" else b).app[NODE].beat()
        by_id = {n.id: n for n in await a.app[NODE].nodes()}
        assert (by_id[room].load.rooms, by_id[room].load.participants) == (1, 1)
        assert by_id[other].load.rooms == 0
        assert least_loaded(list(by_id.values())) == by_id[other]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_dead_node_is_gone_within_seconds_a_stopped_one_at_once(
    aiohttp_client, settings, cluster
) -> None:
    a = await aiohttp_client(create_app(node_settings(settings, cluster, "node-a")))
    b = await aiohttp_client(create_app(node_settings(settings, cluster, "node-b")))
    c = await aiohttp_client(create_app(node_settings(settings, cluster, "node-c")))
    registry = a.app[NODE]
    assert await ids(registry) == ["node-a", "node-b", "node-c"]
    # Node b stops reporting without a word, as a killed process does.
    await b.app[SUPERVISOR].stop_task("node-registry")
    assert "node-b" in await ids(registry)  # not removed: only its reports stopped

    async def b_gone() -> bool:
        return "node-b" not in await ids(registry)

    await wait_for(b_gone, DEAD_AFTER_S * 3)
    assert await ids(registry) == ["node-a", "node-c"]  # the live ones kept reporting
    # Node c stops cleanly: gone for the others at once.
    await c.close()
    assert await ids(registry) == ["node-a"]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_draining_node_takes_no_new_room(aiohttp_client, settings, cluster) -> None:
    a = await aiohttp_client(create_app(node_settings(settings, cluster, "node-a")))
    b = await aiohttp_client(create_app(node_settings(settings, cluster, "node-b")))
    await a.app[NODE].set_draining()
    nodes = await b.app[NODE].nodes()
    assert [n.draining for n in nodes] == [True, False]
    chosen = least_loaded(nodes)
    assert chosen is not None and chosen.id == "node-b"
    await b.app[NODE].set_draining()
    assert least_loaded(await b.app[NODE].nodes()) is None


def test_placement_order() -> None:
    def node(node_id: str, rooms: int, people: int, cpu: float) -> NodeInfo:
        return NodeInfo(node_id, "h", "u", "t", load=Load(rooms, people, 0, cpu))

    nodes = [node("x", 2, 4, 5.0), node("y", 1, 9, 80.0), node("z", 1, 9, 10.0)]
    assert least_loaded(nodes) == nodes[2]  # fewest rooms, then people, then CPU
    assert least_loaded([node("b", 0, 0, 0.0), node("a", 0, 0, 0.0)]).id == "a"  # type: ignore[union-attr]
    assert least_loaded([]) is None


async def test_without_redis_nothing_registers(client) -> None:
    assert NODE not in client.app
    assert (await client.get("/healthz")).status == 200


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_cluster_on_sqlite_is_refused(aiohttp_client, settings, cluster) -> None:
    with pytest.raises(ClusterConfigError, match="PostgreSQL"):
        create_app(node_settings(settings, cluster, "node-a"))
    redis = Redis.from_url(REDIS_URL)
    try:
        assert [k async for k in redis.scan_iter(match=f"{cluster}:*")] == []
    finally:
        await redis.aclose()


def test_courtlink_serve_refuses_a_cluster_on_sqlite(tmp_path) -> None:
    """`courtlink serve` says so before it touches the database, with status 2."""
    env = {
        **os.environ,
        "COURTLINK_REDIS_URL": REDIS_URL,
        "COURTLINK_DATA_DIR": str(tmp_path),
        "COURTLINK_DATABASE_URL": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", "--port", "1"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "PostgreSQL" in done.stderr and "COURTLINK_REDIS_URL" in done.stderr
    assert not (tmp_path / "courtlink.sqlite3").exists()  # nothing migrated


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_an_unreachable_redis_is_named_at_start(settings, cluster) -> None:
    app = create_app(
        node_settings(settings, cluster, "node-a").model_copy(
            update={"redis_url": "redis://127.0.0.1:1/0"}
        )
    )
    runner = web.AppRunner(app)
    try:
        with pytest.raises(ClusterConfigError, match="cannot reach the cluster's Redis"):
            await runner.setup()
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_courtlink_nodes_lists_the_live_nodes(aiohttp_client, settings, cluster) -> None:
    await aiohttp_client(create_app(node_settings(settings, cluster, "node-a")))

    async def nodes(**env: str) -> tuple[int, str]:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server.cli", "nodes", "--json",
            env={**os.environ, "COURTLINK_DATA_DIR": str(settings.data_dir), **env},
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await child.communicate()
        return child.returncode or 0, out.decode()

    code, out = await nodes(COURTLINK_REDIS_URL=REDIS_URL, COURTLINK_CLUSTER_NAME=cluster)
    assert code == 0, out
    (listed,) = json.loads(out)
    assert listed["id"] == "node-a" and listed["address"] == "node-a.court.example"
    assert listed["load"]["rooms"] == 0 and listed["draining"] is False
    code, out = await nodes(COURTLINK_REDIS_URL="")
    assert code == 2 and "single server" in out
