"""Three ``courtlink serve`` nodes as real processes on this machine's Redis and PostgreSQL,
with aiortc peers as the host and a party on different nodes in one room:

- ``courtlink nodes`` lists the three; the room is on one node, the party's socket on
  another; media flows both ways through the room's SFU;
- ``courtlink drain`` of the room's node: it exits; both are sent to reconnect (1001), and
  through the other nodes resume their places (the party in the main room, not the lobby)
  with media again;
- SIGKILL of the room's node then: both reconnect through the last node and are back in
  their places; the seconds it took are printed (the figures are ``bench/cluster.py``'s);
  the dead node's cut recording files are remuxed, marked interrupted and sealed by the last
  node, and each track's recording resumed there within 10 s of its last recorded frame.

Each reconnection is what the page does on a close: connect again (to any node) and say
hello with the resume token, retrying while the cluster notices the death."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterable

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from sqlalchemy import select

from server.app import create_app
from server.models.recordings import Recording, RecordingSegment
from server.web.keys import SESSIONMAKER
from signaling.server_messages import Ack, State, Welcome
from tests.helpers import PASSWORD, free_port
from tests.kill_helpers import Server, run_cli
from tests.test_cluster_nodes import REDIS_URL, cluster  # noqa: F401 (a fixture)
from tests.test_signaling_ws import ORIGIN, WsPeer, _session_with_invites
from tests.waiting import wait_for

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


def node_env(cluster: str, node_id: str) -> dict[str, str]:  # noqa: F811
    return {
        "COURTLINK_REDIS_URL": REDIS_URL,
        "COURTLINK_CLUSTER_NAME": cluster,
        "COURTLINK_NODE_ID": node_id,
        # Browsers reach every node through one front; its origin is the court's address.
        "COURTLINK_PUBLIC_URL": ORIGIN,
    }


async def stop_nodes(nodes: Iterable[Server]) -> None:
    """SIGTERM every node still running and wait for it to exit (a test's cleanup)."""
    for node in nodes:
        if node.proc is not None and node.proc.returncode is None:
            node.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(node.proc.wait(), 30)


async def bearer(http: aiohttp.ClientSession, node: Server) -> str:
    body = {"username": "med", "password": PASSWORD}
    async with http.post(f"{node.url}/api/v1/auth/token", json=body) as resp:
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["token"])


async def rejoin(
    http: aiohttp.ClientSession, url: str, within: float = 20.0, **hello: str
) -> tuple[WsPeer, Welcome]:
    """Connect and say hello until welcomed (the page's reconnection), with media."""
    headers = hello.pop("headers_auth", None)
    deadline = time.monotonic() + within
    while True:
        peer = WsPeer(http, url, media=True)
        try:
            await peer.connect(**({"Authorization": headers} if headers else {}))
            await peer.send("hello", **hello)
            welcome = await peer.wait(lambda m: isinstance(m, Welcome), within=3.0)
            return peer, welcome
        except (AssertionError, aiohttp.ClientError):
            await peer.close()
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def room_node(redis: Redis, cluster: str, sid: int) -> str:  # noqa: F811
    raw = await redis.get(f"{cluster}:room:{sid}")
    assert raw is not None
    return raw.decode()


async def segments(hands: TestClient, sid: int) -> list[RecordingSegment]:
    async with hands.app[SESSIONMAKER]() as db:
        rec = await db.scalar(select(Recording).where(Recording.session_id == sid))
        assert rec is not None
        return list(
            await db.scalars(
                select(RecordingSegment).where(RecordingSegment.recording_id == rec.id)
            )
        )


def recording_gaps(segs: list[RecordingSegment], dead: str, next_node: str) -> list[float]:
    """Per track cut by the kill: seconds from the last frame the dead node wrote (its
    recovered segment's end) to the start of the same track's segment on the next node."""
    gaps = []
    for cut in (s for s in segs if s.node == dead):
        after = [
            s for s in segs
            if s.node == next_node and (s.identity, s.label) == (cut.identity, cut.label)
            and s.started_at >= cut.started_at
        ]  # fmt: skip
        if cut.ended_at is not None and after:
            gaps.append((min(s.started_at for s in after) - cut.ended_at).total_seconds())
    assert gaps, segs
    return gaps


async def test_three_nodes_drain_and_kill(aiohttp_client, settings, tmp_path, cluster):  # noqa: F811
    hands = await aiohttp_client(create_app(settings))  # the test's own, not a node
    _med, _case, sid, token = await _session_with_invites(hands)
    nodes: dict[str, Server] = {}
    for i in range(3):
        node = Server(settings, free_port(), tmp_path / f"node-{i}.log")
        node.env = node_env(cluster, f"node-{i}")
        nodes[f"node-{i}"] = node
    redis = Redis.from_url(REDIS_URL)
    peers: list[WsPeer] = []
    try:
        await asyncio.gather(*(n.start() for n in nodes.values()))
        listed = run_cli(nodes["node-0"], "nodes", "--json")
        assert listed.returncode == 0, listed.stderr
        assert [n["id"] for n in json.loads(listed.stdout)] == ["node-0", "node-1", "node-2"]

        async with aiohttp.ClientSession() as http, aiohttp.ClientSession() as anon:
            auth = f"Bearer {await bearer(http, nodes['node-0'])}"

            def ws(node: Server) -> str:
                return f"ws://127.0.0.1:{node.port}/ws/sessions/{sid}"

            host, h = await rejoin(http, ws(nodes["node-0"]), headers_auth=auth)
            peers.append(host)
            first = await room_node(redis, cluster, sid)
            elsewhere = next(n for n in nodes if n != first)
            party, w = await rejoin(anon, f"{ws(nodes[elsewhere])}?invite={token}", name="张三")
            peers.append(party)
            assert isinstance(await host.reply("admit", pid=w.pid), Ack)
            await party.wait(lambda m: isinstance(m, State) and m.you.place == "main")
            await wait_for(lambda: host.got_from(w.pid, "camera") > 20)
            await wait_for(lambda: party.got_from(h.pid, "camera") > 20)

            async def back_in_place(survivors: list[str]) -> tuple[WsPeer, WsPeer]:
                """Both sent away (1001 or the dead node's closed socket), both resume
                through the survivors, in the main room with media both ways."""
                for peer in (host, party):
                    # Its reader has stopped: closed by the server, or cut when its node
                    # died (or an offer the closing SFU sent could not be answered).
                    await wait_for(lambda peer=peer: peer.reader_done, within=20)
                h_url, p_url = ws(nodes[survivors[0]]), ws(nodes[survivors[-1]])
                host2, h2 = await rejoin(http, h_url, headers_auth=auth, resume=h.resume)
                party2, w2 = await rejoin(
                    anon, f"{p_url}?invite={token}", name="张三", resume=w.resume
                )
                peers.extend([host2, party2])
                assert (h2.resumed, h2.place) == (True, "main")
                assert (w2.resumed, w2.place) == (True, "main")  # not the lobby
                await wait_for(lambda: host2.got_from(w2.pid, "camera") > 20)
                await wait_for(lambda: party2.got_from(h2.pid, "camera") > 20)
                return host2, party2

            drained = run_cli(nodes[first], "drain", first, "--wait", "30")
            assert drained.returncode == 0, (drained.stdout, drained.stderr)
            assert await asyncio.wait_for(nodes[first].proc.wait(), 30) == 0
            survivors = [n for n in nodes if n != first]
            started = time.monotonic()
            host, party = await back_in_place(survivors)
            h, w = host.last(Welcome), party.last(Welcome)
            print(f"drain: both back in place after {time.monotonic() - started:.1f} s")

            second = await room_node(redis, cluster, sid)
            assert second in survivors

            # The room records on its new node before that node is killed (on a loaded
            # machine the media may take a while to come back after the drain).
            async def recording_there() -> bool:
                segs = await segments(hands, sid)
                return any(s.node == second and s.kind == "video" for s in segs)

            await wait_for(recording_there, 60)
            nodes[second].proc.send_signal(signal.SIGKILL)
            await nodes[second].proc.wait()
            started = time.monotonic()
            last = [n for n in survivors if n != second]
            await back_in_place(last)
            print(f"kill: both back in place after {time.monotonic() - started:.1f} s")
            assert await room_node(redis, cluster, sid) == last[0]

            # The dead node's cut files: remuxed and sealed by the last node, once it has
            # been gone long enough; the recording goes on there after a short gap.
            async def dead_nodes_segments_closed() -> bool:
                segs = await segments(hands, sid)
                return all(s.status != "recording" for s in segs if s.node == second)

            await wait_for(dead_nodes_segments_closed, 60)
            segs = await segments(hands, sid)
            cut = [s for s in segs if s.node == second and s.kind == "video"]
            # Each remuxed and marked interrupted, or, if the kill came right after it opened
            # (a loaded machine: a new segment for a new resolution), found empty and said so.
            states = [(s.status, s.frames, s.note) for s in cut]
            assert cut and all(s.status in ("interrupted", "empty") for s in cut), states
            assert any(s.status == "interrupted" and s.frames for s in cut), states
            gaps = recording_gaps(segs, dead=second, next_node=last[0])
            print(f"kill: recording gap {max(gaps):.1f} s (per track: {gaps})")
            assert max(gaps) <= 10.0
    finally:
        for peer in reversed(peers):
            await peer.close()
        await stop_nodes(nodes.values())
        await redis.aclose()
