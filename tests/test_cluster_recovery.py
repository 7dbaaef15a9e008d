"""A dead node's open recording segments are recovered by a live node, once, and nobody
else's (server.cluster.recovery, recordings.crash), on the real Redis and PostgreSQL.

The open segments here are rows whose node never wrote a frame (recovery marks such a one
``empty``): what is checked is whose rows are taken and when. The whole path, real nodes
killed mid-recording and their cut files remuxed and sealed by another, is in
tests/test_cluster_processes.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from recordings import crash, paths
from server.cluster.recovery import GRACE_S, DeadNodes, recover_node
from server.cluster.registry import NodeInfo, Registry, started_now
from server.context import Court
from server.db import make_engine, make_sessionmaker
from server.models.recordings import Recording, RecordingSegment, SegmentStatus
from server.models.sessions import MediationSession
from server.settings import Settings
from tests.test_cluster_nodes import REDIS_URL, cluster  # noqa: F401 (a fixture)
from tests.test_recording_crash import _seed

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


@pytest.fixture
async def court(settings: Settings) -> AsyncIterator[Court]:
    engine = make_engine(settings)
    yield Court.build(settings, make_sessionmaker(engine))
    await engine.dispose()


async def _open_segments(court: Court, nodes: list[str]) -> dict[str, str]:
    """A session with one open camera segment per node, as their recorders opened them."""
    _med, session_id = await _seed(court.settings, court.sessionmaker)
    uids = {}
    async with court.unit() as ctx:
        session = await ctx.db.get(MediationSession, session_id)
        assert session is not None
        rec = Recording(session_id=session_id, case_id=session.case_id, segments=[])
        ctx.db.add(rec)
        await ctx.db.flush()
        for node in nodes:
            uids[node] = uid = uuid.uuid4().hex
            ctx.db.add(
                RecordingSegment(
                    recording_id=rec.id, uid=uid, peer_id=f"p-{node}", label="camera",
                    kind="video", codec="VP8", path=paths.segment_relpath(session_id, uid),
                    status=SegmentStatus.RECORDING, started_at=datetime.now(UTC), node=node,
                )
            )  # fmt: skip
    return uids


async def _status(court: Court) -> dict[str, str]:
    async with court.sessionmaker() as db:
        rows = (await db.scalars(select(RecordingSegment))).all()
        return {s.node: s.status for s in rows}


async def _registry(redis: Redis, cluster: str, node: str) -> Registry:  # noqa: F811
    me = NodeInfo(id=node, address="", url="", started_at=started_now())
    registry = Registry(redis, cluster, me)
    await registry.beat()
    return registry


async def test_recovery_takes_only_the_nodes_it_is_given(court: Court) -> None:
    await _open_segments(court, ["node-a", "node-b", ""])
    assert await crash.open_nodes(court) == {"node-a", "node-b", ""}
    await crash.recover(court, ("node-a",))
    assert await _status(court) == {"node-a": "empty", "node-b": "recording", "": "recording"}
    # A node at its own start takes its own and what predates segments naming their node.
    await crash.recover(court, ("node-b", ""))
    assert set((await _status(court)).values()) == {"empty"}


async def test_a_dead_node_is_recovered_after_the_grace_and_a_live_one_never(
    court: Court,
    cluster: str,  # noqa: F811
) -> None:
    await _open_segments(court, ["node-a", "node-b"])
    redis = Redis.from_url(REDIS_URL)
    try:
        me = await _registry(redis, cluster, "node-c")
        await _registry(redis, cluster, "node-b")  # alive; node-a is not registered: dead
        watcher = DeadNodes(court, me, cluster)
        await watcher.check(now=100.0)
        assert watcher.absent == {"node-a": 100.0}  # seen gone, not yet for long enough
        assert await _status(court) == {"node-a": "recording", "node-b": "recording"}
        await watcher.check(now=100.0 + GRACE_S)
        assert watcher.recovered == ["node-a"] and watcher.absent == {}
        assert await _status(court) == {"node-a": "empty", "node-b": "recording"}
        async with court.sessionmaker() as db:
            rec = await db.scalar(select(Recording))
            assert rec is not None and rec.interrupted and rec.manifest_sha256  # sealed
    finally:
        await redis.aclose()


async def test_a_node_that_cannot_see_itself_takes_nothing(court: Court, cluster: str) -> None:  # noqa: F811
    """Redis restarted a moment ago (empty until every node reports again): no node's open
    segments look dead to a node whose own entry is not back either."""
    await _open_segments(court, ["node-a"])
    redis = Redis.from_url(REDIS_URL)
    try:
        me = await _registry(redis, cluster, "node-c")
        await me.leave()  # as a restarted Redis has forgotten it
        watcher = DeadNodes(court, me, cluster)
        await watcher.check(now=0.0)
        await watcher.check(now=GRACE_S * 10)
        assert watcher.absent == {} and watcher.recovered == []
        assert await _status(court) == {"node-a": "recording"}
    finally:
        await redis.aclose()


async def test_one_claim_one_recovery(court: Court, cluster: str) -> None:  # noqa: F811
    """Two nodes (or a restarted node and a watcher) after the same dead node's segments:
    the one that holds the claim recovers, the other leaves them."""
    await _open_segments(court, ["node-a"])
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.set(f"{cluster}:recover:node-a", "node-b", px=10_000)
        assert await recover_node(court, redis, cluster, "node-a", "node-c") is None
        assert await _status(court) == {"node-a": "recording"}
        await redis.delete(f"{cluster}:recover:node-a")
        assert await recover_node(court, redis, cluster, "node-a", "node-c") is not None
        assert await _status(court) == {"node-a": "empty"}
        assert await redis.get(f"{cluster}:recover:node-a") is None  # released when done
    finally:
        await redis.aclose()
