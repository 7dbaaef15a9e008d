"""This process as a node of a cluster (``server.cluster``), wired into the app.

``node_ctx`` (the app factory's first cleanup context) does nothing without
``COURTLINK_REDIS_URL``. With it, the node registers before anything else starts (a node
that cannot reach Redis at start says so and stops, with nothing to undo: it could not
coordinate with anyone) and reports its load every second from the hub and the SFU under the
app's supervisor. ``leave`` (an ``on_shutdown`` handler, before the rooms are sent away)
takes it out of the registry, so no node places a room on it while it stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from aiohttp import web
from redis.exceptions import RedisError

from server.cluster import ClusterConfigError, clustered, connect_redis, node_id
from server.cluster.registry import Load, NodeInfo, Registry, started_now
from server.web.keys import SETTINGS, SUPERVISOR
from signaling.hub import HUB

NODE = web.AppKey("node", Registry)


def _load(app: web.Application) -> Load:
    hub = app.get(HUB)
    if hub is None:
        return Load()
    stats = hub.stats()
    return Load(stats["sessions"], stats["connections"], hub.sfu.forwarded_streams())


async def node_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not clustered(settings):
        yield
        return
    me = NodeInfo(
        id=node_id(settings),
        address=settings.node_address or (urlsplit(settings.public_url).hostname or ""),
        url=f"http://{settings.host}:{settings.port}",
        started_at=started_now(),
    )
    redis = connect_redis(settings)
    registry = Registry(redis, settings.cluster_name, me, load=lambda: _load(app))
    try:
        await registry.beat()
    except (RedisError, OSError) as exc:
        await redis.aclose()
        raise ClusterConfigError(
            f"cannot reach the cluster's Redis at {settings.redis_url}: {exc}"
        ) from exc
    app[NODE] = registry
    app[SUPERVISOR].start("node-registry", registry.run)
    try:
        yield
    finally:
        await leave(app)
        await redis.aclose()


async def leave(app: web.Application) -> None:
    """Out of the registry now (a clean stop), not after its entry expires."""
    if NODE in app:
        await app[SUPERVISOR].stop_task("node-registry")
        await app[NODE].close()
