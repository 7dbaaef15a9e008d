"""Three real Chromium browsers in one session across a cluster: three real ``courtlink serve``
nodes on Redis and PostgreSQL behind Debian's nginx as their front, configured as
``make cluster`` configures it (``server/cluster/front.conf``, least connections, no
stickiness). The mediator and two parties open their pages at the front; their sockets land
on different nodes and all but the room's node's are bridged to it, while media goes
straight to the room's node. They pass the self-test and the lobby and see each other's
video playing, as on one server.

Which node held each socket is read from the front's access log (it names the upstream of
every request).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError
from redis.asyncio import Redis

from server.app import create_app
from server.cluster.local import front_config
from tests.e2e.conftest import SCREENSHOT_DIR, LiveServer, log_in
from tests.e2e.sessions import open_page, pass_selftest_and_join, wait_place, wait_playing
from tests.helpers import free_port
from tests.kill_helpers import Server
from tests.test_cluster_nodes import REDIS_URL, cluster  # noqa: F401 (a fixture)
from tests.test_cluster_processes import node_env, room_node, stop_nodes
from tests.test_signaling_ws import _second_invite, _session_with_invites

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["postgres"], indirect=True)]
NGINX = "/usr/sbin/nginx"


async def test_three_browsers_on_three_nodes_behind_the_front(
    media_browser: Browser,
    aiohttp_client,
    settings,
    tmp_path: Path,
    cluster: str,  # noqa: F811
) -> None:
    hands = await aiohttp_client(create_app(settings))
    med, case_id, sid, token = await _session_with_invites(hands)
    tokens = {"张三": token, "李四": await _second_invite(hands, med, case_id, sid)}

    port = free_port()
    front = LiveServer(f"http://127.0.0.1:{port}", hands.app, settings)
    nodes = {
        f"node-{i}": Server(settings, free_port(), tmp_path / f"node-{i}.log") for i in range(3)
    }
    for name, node in nodes.items():
        node.env = {
            **node_env(cluster, name),
            "COURTLINK_PUBLIC_URL": front.url,
            # As the live_server fixture does for every browser test not about simulcast:
            # three Chromiums encoding three layers each do not fit beside the rest of the
            # suite on two cores (the wait for playing video timed out in a CI run).
            "COURTLINK_SIMULCAST": "false",
        }
    run = tmp_path / "front"
    run.mkdir()
    conf = front_config(run, port, [n.port for n in nodes.values()])
    nginx: asyncio.subprocess.Process | None = None
    redis = Redis.from_url(REDIS_URL)
    try:
        await asyncio.gather(*(n.start() for n in nodes.values()))
        nginx = await asyncio.create_subprocess_exec(
            NGINX, "-c", str(conf), "-p", str(run),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        refused: list[str] = []
        host = await open_page(media_browser, front, refused)
        for _ in range(100):  # the front is up once it answers
            try:
                await host.goto("/login")
                break
            except PlaywrightError:  # refused while nginx starts
                await asyncio.sleep(0.1)
        await log_in(host, "med")
        await host.goto(f"/sessions/{sid}/join")
        host_pid = await pass_selftest_and_join(host)
        await wait_place(host, "main")

        parties = {}
        for name, secret in tokens.items():
            page = await open_page(media_browser, front, refused)
            await page.goto(f"/join/{secret}")
            pid = await pass_selftest_and_join(page, name)
            await wait_place(page, None)
            await host.click(f"#host-panel button[data-action=admit][data-pid='{pid}']")
            await wait_place(page, "main")
            parties[pid] = page
        everyone = {host_pid, *parties}
        for page, me in ((host, host_pid), *((p, pid) for pid, p in parties.items())):
            await wait_playing(page, everyone - {me})
        await host.screenshot(path=str(SCREENSHOT_DIR / "cluster-room.png"), full_page=True)
        assert refused == []

        room = await room_node(redis, cluster, sid)
        # The sockets were spread over the nodes by the front. nginx logs a request when it
        # ends, a WebSocket's when it closes: the pages close first.
        for page in (host, *parties.values()):
            await page.context.close()
        log = run / "access.log"
        pattern = re.compile(rf'"GET /ws/sessions/{sid}[^"]*" 101 (\S+)')
        for _ in range(100):
            upgrades = pattern.findall(log.read_text())
            if len(upgrades) >= 3:
                break
            await asyncio.sleep(0.1)
        by_port = {str(n.port): name for name, n in nodes.items()}
        holders = [by_port[u.rsplit(":", 1)[1]] for u in upgrades]
        print(f"cluster browsers: sockets on {holders}, the room on {room}")
        assert len(holders) == 3 and len(set(holders)) >= 2, holders
        assert any(h != room for h in holders)  # at least one was bridged, and it played
        # Nothing failed at the front: the pre-join's upload check (a 1 MB POST) once
        # answered 500 there, its worker unable to write the body to a temporary file.
        statuses = re.findall(r'" (\d{3}) ', log.read_text())
        assert statuses and "500" not in statuses, (run / "error.log").read_text()
    finally:
        if nginx is not None and nginx.returncode is None:
            nginx.terminate()  # at once: a graceful stop would wait for open WebSockets
            await asyncio.wait_for(nginx.wait(), 10)
        await stop_nodes(nodes.values())
        await redis.aclose()
