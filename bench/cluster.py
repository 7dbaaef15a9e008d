"""Cluster: N ``courtlink serve`` nodes on this machine's Redis and PostgreSQL, rooms spread
by the placement, one node drained and one killed while the rooms are live.

Each room is a session of its own case: its mediator (a bearer token) and a party (their
invite link) join, the party is admitted. Their sockets go to the nodes in turn, as a
round-robin front would send them, so most connections are bridged to the room's node.
Signaling-only peers, but for the first room, the recorded one: its host and party publish
media (``_cluster_media.py``), so its recording can be followed across the moves; media
through one node's SFU under load is ``bench/media.py``'s.

1. ``bridge_latency_ms_p95``: the signaling round trip (``ping`` to ``pong``) of sockets
   bridged to another node; ``direct_latency_ms_p95`` of sockets on their room's node.
2. Drain: ``courtlink drain`` of the recorded room's node. Everyone sent away reconnects
   through a surviving node with their resume token; ``drain_reconnect_s_p95`` is from the
   close to the welcome that gives their place back.
3. Kill: SIGKILL of the node then holding the recorded room; the same, as
   ``failover_reconnect_s_p50`` / ``_p95``.

``participants_lost`` counts whoever did not get their place back within 30 s (the lobby,
or no welcome). ``recording_gap_s_max``: the longest stretch of the recorded room's tracks
missing from its recording across both moves, read once the killed node's cut segments have
been recovered and sealed by a live node (``_cluster_media.recording_gaps``).

    .venv/bin/python bench/cluster.py --nodes 3 --rooms 9 --json var/bench/cluster.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from asyncio.subprocess import PIPE, STDOUT
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _client import bearer, free_port, percentile, wait_up  # noqa: E402
from _cluster_media import Seat, clip, recording_gaps  # noqa: E402
from _soak_peers import PASSWORD, api, seed  # noqa: E402

from server.migrate import upgrade  # noqa: E402
from server.settings import Settings  # noqa: E402

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/0"
COURTLINK = str(ROOT / ".venv" / "bin" / "courtlink")


class Peer:
    """One participant's socket, speaking ``signaling/PROTOCOL.md`` with no media."""

    def __init__(self, name: str, url: str, headers: dict[str, str]) -> None:
        self.name, self.url, self.headers = name, url, headers
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.welcome: dict[str, Any] = {}
        self.closed_at: float | None = None
        self.closed = asyncio.Event()
        self.pongs: dict[int, asyncio.Future[float]] = {}
        self.reader: asyncio.Task[None] | None = None

    async def join(self, http: aiohttp.ClientSession, base: str, resume: str = "") -> None:
        self.ws = await http.ws_connect(f"{base}{self.url}", headers=self.headers, heartbeat=None)
        hello: dict[str, Any] = {"v": 1, "type": "hello"}
        if self.name:
            hello["name"] = self.name
        if resume:
            hello["resume"] = resume
        welcomed: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.closed_at = None
        self.closed.clear()
        self.reader = asyncio.create_task(self._read(welcomed))
        await self.ws.send_str(json.dumps(hello))
        self.welcome = await asyncio.wait_for(welcomed, 5)

    async def _read(self, welcomed: asyncio.Future[dict[str, Any]]) -> None:
        assert self.ws is not None
        async for frame in self.ws:
            msg = json.loads(frame.data)
            if msg["type"] == "welcome" and not welcomed.done():
                welcomed.set_result(msg)
            elif msg["type"] == "pong" and msg.get("re") in self.pongs:
                self.pongs.pop(msg["re"]).set_result(time.perf_counter())
            elif msg["type"] == "ping":
                await self.ws.send_str(json.dumps({"v": 1, "type": "pong"}))
        self.closed_at = time.monotonic()
        self.closed.set()

    async def send(self, kind: str, **body: Any) -> None:
        assert self.ws is not None
        await self.ws.send_str(json.dumps({"v": 1, "type": kind, **body}))

    async def ping(self, n: int) -> float:
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.pongs[n] = fut
        t0 = time.perf_counter()
        await self.send("ping", id=n)
        return (await asyncio.wait_for(fut, 5) - t0) * 1000


def start_node(node_id: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [COURTLINK, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env={**env, "COURTLINK_NODE_ID": node_id}, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def exited(proc: subprocess.Popen[bytes]) -> Callable[[], bool]:
    return lambda: proc.poll() is not None


# The JSON keys: the drain's p95, the failover's p50 and p95.
RECONNECT_KEYS = {"drain": ("drain_reconnect_s", (95,)), "kill": ("failover_reconnect_s", (50, 95))}


def rounded(values: list[float], q: int) -> float | None:
    return round(percentile(values, q), 2) if values else None


def count(where: dict[int, str], names: list[str]) -> dict[str, int]:
    """How many of the placed rooms each node holds."""
    return {n: sum(1 for v in where.values() if v == n) for n in names}


async def placed(redis: Redis, cluster: str, sids: list[int]) -> dict[int, str]:
    raw = await redis.mget([f"{cluster}:room:{s}" for s in sids])
    return {s: str(r) for s, r in zip(sids, raw, strict=True) if r}


async def come_back(
    http: aiohttp.ClientSession, peers: list[Peer], bases: list[str]
) -> tuple[list[float], int]:
    """Everyone whose socket closes within 15 s reconnects at once (in turn over ``bases``)
    with their resume token: seconds from the close to being back in the main room, where
    everyone was admitted, and how many were not back within 30 s. Sockets that stay open
    were not moved."""

    async def one(i: int, peer: Peer) -> float | bool | None:
        try:
            await asyncio.wait_for(peer.closed.wait(), 15)
        except TimeoutError:
            return False  # still connected: not moved
        assert peer.closed_at is not None
        closed, resume = peer.closed_at, peer.welcome["resume"]
        deadline = closed + 30
        while time.monotonic() < deadline:
            try:
                await peer.join(http, bases[i % len(bases)], resume)
                if peer.welcome.get("resumed") and peer.welcome.get("place") == "main":
                    return time.monotonic() - closed
                return None  # welcomed, but not in their place: lost
            except (TimeoutError, aiohttp.ClientError):
                i += 1
                await asyncio.sleep(0.1)
        return None

    times = await asyncio.gather(*(one(i, p) for i, p in enumerate(peers)))
    back = [t for t in times if isinstance(t, float)]
    return back, sum(1 for t in times if t is None)


async def run(args: argparse.Namespace, data: Path) -> dict[str, Any]:
    cluster = f"bench-{os.getpid()}"
    db = f"cl_bench_cluster_{os.getpid()}"
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{db}"')
    url = f"{PG}/{db}"
    settings = Settings(_env_file=None, data_dir=data, database_url=url, secret_key="bench")  # type: ignore[call-arg]
    await asyncio.to_thread(upgrade, settings)
    rooms = await seed(settings, args.rooms)
    env = {**os.environ, "COURTLINK_DATABASE_URL": url, "COURTLINK_DATA_DIR": str(data),
           "COURTLINK_SECRET_KEY": "bench", "COURTLINK_REDIS_URL": REDIS,
           "COURTLINK_CLUSTER_NAME": cluster}  # fmt: skip
    ports = {f"node-{i + 1}": free_port() for i in range(args.nodes)}
    procs = {n: start_node(n, p, env, data / f"{n}.log") for n, p in ports.items()}
    base = {n: f"http://127.0.0.1:{p}" for n, p in ports.items()}
    redis = Redis.from_url(REDIS, decode_responses=True)
    peers: list[tuple[Peer, str, int]] = []  # (peer, its node, its room's session id)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            names = list(ports)
            await asyncio.gather(*(wait_up(http, base[n], exited(procs[n]), data / f"{n}.log")
                                   for n in names))  # fmt: skip
            first = base[names[0]]
            media = clip(ROOT / "var" / "bench" / "clips")
            seats: list[Seat] = []
            for n, room in enumerate(rooms):
                token = await bearer(http, first, room["user"], PASSWORD)
                made = await api(http, "POST", f"{first}/api/v1/cases/{room['case_id']}/sessions",
                                 token, json={"kind": "mediation"})  # fmt: skip
                sid = room["session_id"] = made["id"]
                party_id, name = room["parties"][0]
                invite = await api(http, "POST", f"{first}/api/v1/sessions/{sid}/invites", token,
                                   json={"party_id": party_id})  # fmt: skip
                auth = {"Authorization": f"Bearer {token}"}
                ws, ws_party = f"/ws/sessions/{sid}", f"/ws/sessions/{sid}?invite={invite['token']}"
                h_node, p_node = names[(2 * n) % len(names)], names[(2 * n + 1) % len(names)]
                if n == 0:  # the recorded room: media, its party's socket bridged
                    seats = [Seat("", ws, auth, media), Seat(name, ws_party, {}, media)]
                    await seats[0].join(http, base[h_node])
                    await seats[1].join(http, base[p_node])
                    continue
                host, party = Peer("", ws, auth), Peer(name, ws_party, {})
                await host.join(http, base[h_node])
                await party.join(http, base[p_node])
                await host.send("admit", pid=party.welcome["pid"])
                peers += [(host, h_node, sid), (party, p_node, sid)]
            await asyncio.sleep(1.0)  # the admissions are in the rooms' state
            where = await placed(redis, cluster, [r["session_id"] for r in rooms])
            direct: list[float] = []
            bridged: list[float] = []
            for k in range(args.pings):
                for peer, node, sid in peers:
                    (direct if where.get(sid) == node else bridged).append(await peer.ping(k + 1))
            result: dict[str, Any] = {
                "nodes": args.nodes, "rooms": args.rooms, "rooms_per_node": count(where, names),
                "participants": len(peers) + len(seats),
                "bridged_sockets": sum(1 for _, n, s in peers if where.get(s) != n),
                "bridge_latency_ms_p95": rounded(bridged, 95),
                "direct_latency_ms_p95": rounded(direct, 95),
            }  # fmt: skip
            lost, recorded = 0, rooms[0]["session_id"]
            for phase in ("drain", "kill"):
                where = await placed(redis, cluster, [r["session_id"] for r in rooms])
                counts = count(where, names)
                target = where[recorded]  # the recorded room's node, so its gap is measured
                names.remove(target)
                # Reconnecting starts the moment a socket closes, as a browser's does.
                everyone, bases = [p for p, _, _ in peers], [base[n] for n in names]
                moving = asyncio.create_task(come_back(http, everyone, bases))
                # The recorded room's host and party come back through different nodes.
                seated = asyncio.gather(
                    seats[0].come_back(http, bases), seats[1].come_back(http, bases[::-1])
                )
                if phase == "drain":
                    drain = await asyncio.create_subprocess_exec(
                        COURTLINK, "drain", target, "--wait", "30", env=env,
                        stdout=PIPE, stderr=STDOUT)  # fmt: skip
                    out, _ = await drain.communicate()
                    assert drain.returncode == 0, out
                else:
                    procs[target].send_signal(signal.SIGKILL)
                await asyncio.to_thread(procs[target].wait, 30)
                back, missing = await moving
                seat_times = await seated
                back += [t for t in seat_times if t is not None]
                missing += sum(1 for t in seat_times if t is None)
                lost += missing
                key, quantiles = RECONNECT_KEYS[phase]
                result.update({f"{key}_p{q}": rounded(back, q) for q in quantiles})
                result[f"{phase}_moved_participants"] = len(back) + missing
                result[f"{phase}_target_rooms"] = counts[target]
            result["participants_lost"] = lost
            dead = [n for n in ports if n not in names]
            gaps, statuses = await recording_gaps(url, recorded, dead)
            result["recording_gap_s_max"] = round(max(gaps), 2) if gaps else None
            result["recording_gaps_s"] = [round(g, 2) for g in gaps]
            result["moved_segments"] = statuses
            for peer, _, _ in peers:
                if peer.ws is not None:
                    await peer.ws.close()
            for seat in seats:
                if seat.peer is not None:
                    await seat.peer.stop()
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        await redis.aclose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
    result["load_average"] = os.getloadavg()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--rooms", type=int, default=9)
    parser.add_argument("--pings", type=int, default=20, help="per participant")
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "bench" / "cluster.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cl-cluster-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0 if result["participants_lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
