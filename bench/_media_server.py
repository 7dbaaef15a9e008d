"""Benchmark server: the ``Sfu`` behind a tiny WebSocket signaling shim, in its own process.

Not the product's signaling (that is signaling/'s endpoint, with auth, lobby and schemas):
the shim only carries offers and answers so the benchmark measures the media path alone.
``GET /ws/{peer}?room=R`` joins a peer to room R (the server sends offers, the peer answers
``{"type": "answer", "sdp": ...}``); closing the socket removes the peer. ``GET /stats``
returns ``Sfu.stats()``. Prints ``PORT <n>`` on stdout once listening. Simulcast is off
unless ``--simulcast`` (every publisher then sends three rid layers: ``bench/_simulcast*.py``),
so the plain figures measure one stream per camera, as they always did.

With ``--record DIR`` the real ``recordings.recorder.Recorder`` is the SFU's tap (as the
product's hub attaches it), each room the main room of its own session, writing real files
under DIR; ``GET /recording`` (after every peer left) closes the recorder and returns what
the publishers sent and what the files hold (``bench/_media_record.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

from aiohttp import WSMsgType, web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _media_record import RecordingProbe

from server import eventloop
from signaling.sfu import Sfu
from signaling.sfu.trim import freeze_long_lived

SFU = web.AppKey("sfu", Sfu)
PROBE = web.AppKey("probe", RecordingProbe)


async def ws_peer(request: web.Request) -> web.WebSocketResponse:
    sfu = request.app[SFU]
    peer_id = request.match_info["peer"]
    room = request.query.get("room")
    ws = web.WebSocketResponse(heartbeat=None)
    await ws.prepare(request)

    async def on_offer(offer: dict[str, object]) -> None:
        if not ws.closed:
            await ws.send_str(json.dumps(offer))

    await sfu.add_peer(peer_id, on_offer=on_offer)
    await sfu.set_room(peer_id, room)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            if data.get("type") == "answer":
                await sfu.handle_answer(peer_id, data["sdp"])
    finally:
        if PROBE in request.app:
            # the same synchronous step as the removal: no packet arrives in between
            request.app[PROBE].peer_leaving(peer_id, sfu.stats().get(peer_id))
        await sfu.remove_peer(peer_id)
    return ws


async def stats(request: web.Request) -> web.Response:
    if request.query.get("gc"):
        # A memory sample: collect and return free heap pages, as the SFU itself does 2 s
        # after a departure, so a sample does not depend on whether that trim ran yet.
        request.app[SFU].trimmer.trim()
    out = {"pid": os.getpid(), "sfu": request.app[SFU].stats()}
    if request.query.get("downlink"):
        out["downlink"] = downlinks(request.app[SFU])
    if PROBE in request.app:
        out["recorder"] = request.app[PROBE].counters()
    return web.json_response(out)


def downlinks(sfu: Sfu) -> dict[str, object]:
    """Per peer, its downlink estimate and, per simulcast camera it receives, the layer it is
    on and the one it waits for (read from the SFU's objects: the bench's view, not an API)."""
    out: dict[str, object] = {}
    for peer_id, peer in sfu._peers.items():
        d = peer.downlink
        layers = {
            s.outlet.track.peer_id: [getattr(s.outlet, "current", None), s.outlet.target]
            for s in peer.slots
            if s.outlet is not None and hasattr(s.outlet, "target")
        }
        out[peer_id] = {
            "estimate_kbps": round(d.estimate / 1000, 1),
            "ceiling_kbps": None if d.ceiling is None else round(d.ceiling / 1000, 1),
            "last_loss": d.last_loss,
            "queue_ms": None if d.queue_s is None else round(d.queue_s * 1000),
            "delivered_kbps": None if d.delivered_bps is None else round(d.delivered_bps / 1000),
            "sent_kbps": round(d._sent[-1][1] / 1000) if d._sent else None,
            "protect_audio": d.protect_audio,
            "probes": [d.probe.count, d.probe.passed],
            "layers": layers,
        }
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", default="passthrough")
    parser.add_argument("--max-video-kbps", type=int, default=2500)
    parser.add_argument("--profile", default="", help="write cProfile stats here on exit")
    parser.add_argument("--record", default="", help="record every room into this directory")
    parser.add_argument(
        "--simulcast", action="store_true", help="ask publishers for three layers (issue 18)"
    )
    args = parser.parse_args()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    app = web.Application()
    sfu = Sfu(
        ice_servers=[],
        mode=args.mode,
        max_video_kbps=args.max_video_kbps,
        simulcast=args.simulcast,
    )
    app[SFU] = sfu
    app.router.add_get("/ws/{peer}", ws_peer)
    app.router.add_get("/stats", stats)
    if args.record:
        app[PROBE] = probe = RecordingProbe(Path(args.record), sfu)
        probe.start()
        print(f"DISK_THREAD {probe.disk_thread_id()}", flush=True)
        app.router.add_get("/recording", probe.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    freeze_long_lived()  # as `courtlink serve` does once started (server/cli.py)
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"PORT {port}", flush=True)
    try:
        await stop.wait()
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        await sfu.close()
        if PROBE in app:
            await app[PROBE].close()
        await runner.cleanup()


if __name__ == "__main__":
    # the loop `courtlink serve` runs on (server/eventloop.py)
    with (
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=eventloop.new_event_loop) as runner,
    ):
        runner.run(main())
