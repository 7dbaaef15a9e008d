"""Soak: rooms × peers × minutes of recorded sessions through the real server.

``courtlink serve`` runs in a subprocess over a fresh SQLite database (or ``--database-url``).
Each room is a live session of its own case: the case's mediator hosts it (a bearer token,
as a non-browser client) and the case's two parties join through their invite links and
are admitted from the lobby, all speaking the product's signaling protocol
(``signaling/PROTOCOL.md``); the host starts recording through the API
(``POST /api/v1/sessions/{id}/recording``). The peers are the media benchmark's lean aiortc
peers (``bench/_media_peers.py``: real ICE, DTLS and SRTP, a pre-encoded VP8 clip and Opus
replayed at the clip's rate, received packets counted without decoding), here behind the
product's WebSocket instead of the benchmark shim.

Every ``--sample-seconds`` the server's RSS and open file descriptors are sampled. At the
end the host ends each session, the recordings are sealed, the server stops, and
``courtlink recordings verify`` checks every recording. Writes JSON with ``rooms``,
``peers``, ``minutes``, ``errors`` (error lines in the server's log plus peer failures),
``rss_growth_mb`` and ``fd_growth`` (last samples minus the first after warm-up) and
``recordings_verified``, and the samples.

    .venv/bin/python bench/soak.py --rooms 10 --peers 3 --minutes 10 --json var/bench/soak.json
    make soak            # the same
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from _client import bearer, free_port, wait_up  # noqa: E402
from _media_clip import audio_clip, video_clip  # noqa: E402
from _media_peers import load_clip  # noqa: E402
from _soak_peers import PASSWORD, RoomPeer, api, seed  # noqa: E402

from server.migrate import upgrade  # noqa: E402
from server.settings import Settings  # noqa: E402


def log_errors(log: Path) -> list[str]:
    lines = log.read_text(errors="replace").splitlines()
    return [ln for ln in lines if " ERROR " in ln or " CRITICAL " in ln or "Traceback" in ln]


def sample(proc: psutil.Process, t0: float) -> dict[str, float]:
    return {
        "t": round(time.monotonic() - t0, 1),
        "rss_mb": round(proc.memory_info().rss / 2**20, 2),
        "fds": proc.num_fds(),
        "cpu_s": round(sum(proc.cpu_times()[:2]), 2),
    }


async def soak(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    data, url = settings.data_dir, settings.effective_database_url
    rooms = await seed(settings, args.rooms)
    cache = ROOT / "var" / "bench" / "clips"
    clip_args = argparse.Namespace(
        video=str(video_clip(cache, args.width, args.height, fps=args.fps, kbps=args.kbps)),
        audio=str(audio_clip(cache)),
        publish=True, fps=args.fps, mode="passthrough", url="",
    )  # fmt: skip
    clip = load_clip(clip_args)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "COURTLINK_DATABASE_URL": url, "COURTLINK_DATA_DIR": str(data),
           "COURTLINK_SECRET_KEY": "soak", "COURTLINK_PUBLIC_URL": base}  # fmt: skip
    log_path = data / "server.log"
    with log_path.open("wb") as log:
        server = await asyncio.create_subprocess_exec(
            str(ROOT / ".venv" / "bin" / "courtlink"), "serve", "--port", str(port),
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=data,
        )  # fmt: skip
    proc = psutil.Process(server.pid)
    peers: list[RoomPeer] = []
    samples: list[dict[str, float]] = []
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await wait_up(http, base, lambda: server.returncode is not None, log_path)
            ws_base = f"ws://127.0.0.1:{port}/ws/sessions"
            for n, room in enumerate(rooms):
                room["token"] = token = await bearer(http, base, room["user"], PASSWORD)
                made = await api(http, "POST", f"{base}/api/v1/cases/{room['case_id']}/sessions",
                                 token, json={"kind": "mediation"})  # fmt: skip
                room["session_id"] = sid = made["id"]
                host = RoomPeer(f"r{n}-host", f"{ws_base}/{sid}", "", True, clip_args, clip)
                host.headers = {"Authorization": f"Bearer {token}"}
                await host.start(http)
                await api(http, "POST", f"{base}/api/v1/sessions/{sid}/recording", token,
                          json={"active": True})  # fmt: skip
                peers.append(host)
                for k in range(args.peers - 1):
                    party_id, name = room["parties"][k % 2]
                    invite = await api(http, "POST", f"{base}/api/v1/sessions/{sid}/invites",
                                       token, json={"party_id": party_id})  # fmt: skip
                    secret = invite["token"]
                    party = RoomPeer(f"r{n}-p{k}", f"{ws_base}/{sid}?invite={secret}", name,
                                     False, clip_args, clip)  # fmt: skip
                    await party.start(http)
                    peers.append(party)
            t0 = time.monotonic()
            duration = args.minutes * 60
            warmup = min(args.warmup, duration / 3)
            while time.monotonic() - t0 < duration:
                samples.append(sample(proc, t0))
                await asyncio.sleep(args.sample_seconds)
            samples.append(sample(proc, t0))
            received = {p.id: sum(p.markers.values()) for p in peers}
            for peer in peers:
                peer.leaving = True  # from here on, bye "ended" is what is expected
            for room in rooms:
                await api(http, "POST", f"{base}/api/v1/sessions/{room['session_id']}/end",
                          room["token"])  # fmt: skip
            for peer in peers:
                await peer.stop()
            # The recorder closes the segments and the sweep seals them; wait for the seals.
            sealed: dict[int, bool] = {}
            for _ in range(1200):
                for room in rooms:
                    rec = await api(http, "GET",
                                    f"{base}/api/v1/sessions/{room['session_id']}/recording",
                                    room["token"])  # fmt: skip
                    sealed[room["session_id"]] = rec.get("sealed_at") is not None
                if all(sealed.values()):
                    break
                await asyncio.sleep(0.5)
    finally:
        stopping = time.monotonic()
        server.terminate()
        try:
            await asyncio.wait_for(server.wait(), 300)
        except TimeoutError:
            server.kill()
            await server.wait()
        shutdown_seconds = round(time.monotonic() - stopping, 1)
    verified = 0
    verify_out = []
    for room in rooms:
        check = await asyncio.create_subprocess_exec(
            str(ROOT / ".venv" / "bin" / "courtlink"), "recordings", "verify",
            str(room["session_id"]), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await check.communicate()
        verified += check.returncode == 0
        verify_out.append(output.decode(errors="replace").strip()[-400:])
    after = [s for s in samples if s["t"] >= warmup]
    head, tail = after[:3], after[-3:]
    peer_failures = [f for p in peers for f in p.failures]
    errors = log_errors(log_path)
    silent = [pid for pid, frames in received.items() if frames == 0]
    return {
        "benchmark": "soak",
        "rooms": args.rooms,
        "peers": args.peers,
        "minutes": args.minutes,
        "errors": len(errors) + len(peer_failures) + len(silent),
        "rss_growth_mb": round(
            statistics.mean(s["rss_mb"] for s in tail) - statistics.mean(s["rss_mb"] for s in head),
            2,
        ),
        "fd_growth": round(
            statistics.mean(s["fds"] for s in tail) - statistics.mean(s["fds"] for s in head), 1
        ),
        "recordings_verified": verified,
        "recordings": len(rooms),
        "recordings_sealed": sum(sealed.values()),
        "warmup_seconds": warmup,
        "shutdown_seconds": shutdown_seconds,
        "server_cpu_percent": round(
            100 * (samples[-1]["cpu_s"] - samples[0]["cpu_s"]) / max(samples[-1]["t"], 1), 1
        ),
        "log_errors": errors[:20],
        "peer_failures": peer_failures[:20],
        "peers_receiving_nothing": silent,
        "frames_received": received,
        "verify": verify_out,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": os.getloadavg(),
        "samples": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--peers", type=int, default=3, help="per room: the host and parties")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=60, help="seconds (at most a third)")
    parser.add_argument("--sample-seconds", type=float, default=5)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--kbps", type=int, default=500)
    parser.add_argument("--database-url", default="", help="default: SQLite in the data dir")
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "bench" / "soak.json")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="cl-soak-"))
    try:
        url = args.database_url or f"sqlite+aiosqlite:///{data / 'courtlink.sqlite3'}"
        settings = Settings(_env_file=None, data_dir=data, database_url=url, secret_key="soak")  # type: ignore[call-arg]
        upgrade(settings)  # before the loop: migrations run their own
        result = asyncio.run(soak(args, settings))
    finally:
        if args.keep:
            print(f"data kept in {data}", file=sys.stderr)
        else:
            shutil.rmtree(data, ignore_errors=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    short = {k: v for k, v in result.items() if k not in ("samples", "frames_received")}
    print(json.dumps(short, indent=2, ensure_ascii=False))
    ok = (
        result["errors"] == 0
        and result["recordings_verified"] == args.rooms
        and result["rss_growth_mb"] < 20
        and result["fd_growth"] <= 2
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
