"""``courtlink nodes`` and ``courtlink drain NODE``: the operator's view of the cluster.

``nodes`` is what an operator looks at before an upgrade or after a node died: every node
that reported in the last few seconds, its media address, whether it is draining, its rooms,
participants, forwarded streams and CPU. ``drain NODE`` asks one node (on any machine) to
stop as SIGTERM would: it leaves the registry, sends everyone in its rooms to reconnect
(their rooms start again on other nodes, places kept), seals and exits; the command waits
until the node is gone. Both exit 2 when no cluster is configured or Redis cannot be
reached; ``drain`` exits 1 when no such node is listening or it is still there after
``--wait`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict

from redis.exceptions import RedisError

from server.cli import register
from server.cluster import clustered, connect_redis
from server.cluster.bus import Bus
from server.cluster.registry import NodeInfo, Registry
from server.settings import Settings


async def live_nodes(settings: Settings) -> list[NodeInfo]:
    redis = connect_redis(settings)
    try:
        # A registry that never reports: only its view of the others is used.
        viewer = NodeInfo(id="", address="", url="", started_at="")
        return await Registry(redis, settings.cluster_name, viewer).nodes()
    finally:
        await redis.aclose()


def _table(nodes: list[NodeInfo]) -> list[str]:
    lines = [f"{'node':<24} {'address':<24} {'rooms':>5} {'people':>6} {'streams':>7} {'cpu%':>6}"]
    for n in nodes:
        state = " draining" if n.draining else ""
        lines.append(
            f"{n.id:<24} {n.address:<24} {n.load.rooms:>5} {n.load.participants:>6} "
            f"{n.load.streams:>7} {n.load.cpu_percent:>6.1f}{state}"
        )
    return lines


def _cmd_nodes(args: argparse.Namespace, settings: Settings) -> int:
    if not clustered(settings):
        print("no cluster: COURTLINK_REDIS_URL is not set (this is a single server)")
        return 2
    try:
        nodes = asyncio.run(live_nodes(settings))
    except (RedisError, OSError) as exc:
        print(f"cannot reach the cluster's Redis at {settings.redis_url}: {exc}")
        return 2
    if args.json:
        print(json.dumps([asdict(n) for n in nodes], ensure_ascii=False, indent=2))
    else:
        print("\n".join(_table(nodes)) if nodes else "no live node")
    return 0


async def drain(settings: Settings, node: str, wait: float) -> bool:
    """Ask ``node`` to drain; True once it left the registry within ``wait`` seconds."""
    redis = connect_redis(settings)
    try:
        bus = Bus(redis, settings.cluster_name, "courtlink-cli", lambda _msg: None)
        if not await bus.send(node, {"op": "drain"}):
            return False
    finally:
        await redis.aclose()
    loop = asyncio.get_running_loop()
    end = loop.time() + wait
    while loop.time() < end:
        if node not in {n.id for n in await live_nodes(settings)}:
            return True
        await asyncio.sleep(0.5)
    return False


def _cmd_drain(args: argparse.Namespace, settings: Settings) -> int:
    if not clustered(settings):
        print("no cluster: COURTLINK_REDIS_URL is not set (this is a single server)")
        return 2
    try:
        done = asyncio.run(drain(settings, args.node, args.wait))
    except (RedisError, OSError) as exc:
        print(f"cannot reach the cluster's Redis at {settings.redis_url}: {exc}")
        return 2
    print(f"node {args.node} drained" if done else f"node {args.node} did not drain")
    return 0 if done else 1


@register
def _add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("nodes", help="the cluster's live nodes and their load")
    p.add_argument("--json", action="store_true", help="as JSON")
    p.set_defaults(func=_cmd_nodes)
    d = sub.add_parser("drain", help="stop a node, moving its rooms to the other nodes")
    d.add_argument("node", help="the node's id (see courtlink nodes)")
    d.add_argument("--wait", type=float, default=60.0, help="seconds to wait for it to go")
    d.set_defaults(func=_cmd_drain)
