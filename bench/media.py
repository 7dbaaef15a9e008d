"""Media benchmark: server CPU, frame loss and forwarding latency of the SFU under load.

Runs the SFU (``bench/_media_server.py``: the ``Sfu`` behind a tiny WebSocket signaling shim,
so only the media path is measured) in its own process and lean load peers
(``bench/_media_peers.py``) in ``--load-procs`` others. Publishers replay a pre-encoded VP8
clip (plus Opus) through their SRTP sessions; subscribers count packets without decoding.

    python bench/media.py --rooms 1 --participants 6 --seconds 20 --width 1280 --height 720 \
        --mode passthrough --json var/bench/media.json
    python bench/media.py --participants 3 --width 640 --height 480 --compare --json OUT
    python bench/media.py --cycles 200 --json OUT        # server memory over join/leave cycles
    python bench/media.py --participants 6 --width 1280 --height 720 --record --json OUT

``--record`` runs the same load twice, without and then with the real recorder as the SFU's
tap (writing files to a temporary directory), and reports what recording adds to the
server's CPU and how many forwarded frames the files hold.

Writes JSON (see bench/README.md for the fields and the figures measured).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _media_clip import audio_clip, video_clip  # noqa: E402


class Proc:
    """A child process speaking the line protocol of _media_server/_media_peers."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.ps = psutil.Process(proc.pid)

    nice = 0  # set from --nice: the machine is shared; see bench/README.md

    @classmethod
    async def start(cls, *argv: str) -> Proc:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *argv,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=1 << 28, start_new_session=bool(cls.nice),
        )  # fmt: skip
        self = cls(proc)
        if cls.nice:
            # With autogroup scheduling (Linux default) a process's nice value only counts
            # inside its session's group; a new session gets its own group, whose weight
            # against the other sessions on this shared machine is set here.
            autogroup = Path(f"/proc/{proc.pid}/autogroup")
            if autogroup.exists():  # noqa: ASYNC240
                autogroup.write_text(str(cls.nice))  # noqa: ASYNC240
            self.ps.nice(cls.nice)
        return self

    async def expect(self, prefix: str, within: float = 180) -> str:
        assert self.proc.stdout is not None
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(), within)
            if not line:
                raise RuntimeError(f"process {self.proc.pid} ended before {prefix}")
            text = line.decode().strip()
            if text.startswith(prefix):
                return text[len(prefix) :].strip()

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

    def thread_cpu(self, tid: int) -> float:
        """CPU seconds of one thread of the process (0 if it is gone)."""
        for t in self.ps.threads():
            if t.id == tid:
                return float(t.user_time + t.system_time)
        return 0.0

    def system_cpu(self) -> float:
        return float(self.ps.cpu_times().system)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def run_load(
    args: argparse.Namespace, mode: str, clips: tuple[Path, Path], record: str = ""
) -> dict[str, Any]:
    extra = ["--profile", args.profile] if args.profile else []
    extra += ["--record", record] if record else []
    server = await Proc.start(str(HERE / "_media_server.py"), "--mode", mode, *extra)
    loads: list[Proc] = []
    recording: dict[str, Any] = {}
    try:
        disk_tid = int(await server.expect("DISK_THREAD")) if record else 0
        port = await server.expect("PORT")
        url = f"http://127.0.0.1:{port}"
        specs = [f"r{r}p{i}@room{r}" for r in range(args.rooms) for i in range(args.participants)]
        groups = [specs[i :: args.load_procs] for i in range(args.load_procs)]
        common = ["--url", url, "--video", str(clips[0]), "--audio", str(clips[1])]
        common += ["--fps", str(args.fps), "--mode", mode, "--publish"]
        for group in filter(None, groups):
            argv = [str(HERE / "_media_peers.py"), *common, "--peers", ",".join(group)]
            argv += ["--expect", str(args.participants - 1)]
            loads.append(await Proc.start(*argv))
        for load in loads:
            await load.expect("READY")
        await asyncio.sleep(args.warmup)
        counters0: dict[str, float] = {}
        if record:
            async with aiohttp.ClientSession() as session, session.get(f"{url}/stats") as resp:
                counters0 = (await resp.json())["recorder"]
        disk0 = server.thread_cpu(disk_tid) if record else 0.0
        main0 = server.thread_cpu(server.proc.pid)
        cpu0, load0, t0 = server.cpu(), [p.cpu() for p in loads], time.monotonic()
        sys0 = server.system_cpu()
        for load in loads:
            load.send("MARK")
        await asyncio.sleep(args.seconds)
        cpu1, load1, t1 = server.cpu(), [p.cpu() for p in loads], time.monotonic()
        disk1 = server.thread_cpu(disk_tid) if record else 0.0
        main1 = server.thread_cpu(server.proc.pid)
        args.server_system_seconds = server.system_cpu() - sys0
        async with aiohttp.ClientSession() as session, session.get(f"{url}/stats") as resp:
            stats = await resp.json()
        sfu_stats = stats["sfu"]
        counters1 = stats.get("recorder", {})
        await asyncio.sleep(args.grace)  # let frames sent before t1 arrive
        for load in loads:
            load.send("STOP")
        results = [json.loads(await load.expect("RESULT")) for load in loads]
        rss = server.ps.memory_info().rss
        if record:
            for p in loads:
                await p.stop()
            async with aiohttp.ClientSession() as session, session.get(f"{url}/recording") as resp:
                recording = await resp.json()
    finally:
        for p in loads:
            await p.stop()
        await server.stop()
    out = summarize(args, mode, results, sfu_stats, (t0, t1), (cpu0, cpu1), (load0, load1), rss)
    out["server_loop_thread_cpu_ms_per_second"] = round(1000 * (main1 - main0) / (t1 - t0), 2)
    if record:
        out["recording"] = recording
        # the recorder's disk thread alone (pwrite, fsync); its muxing runs on the event loop
        # measured directly: the disk thread's CPU (the kernel's clock ticks, 10 ms), the
        # loop's batches (thread_time in the recorder); the per-packet tap calls are not in it
        wall = t1 - t0
        batch = counters1["batch_cpu_seconds"] - counters0["batch_cpu_seconds"]
        out["recorder_cpu"] = {
            "disk_thread_ms_per_second": round(1000 * (disk1 - disk0) / wall, 2),
            "batches_ms_per_second": round(1000 * batch / wall, 2),
            "tap_packets_per_second": round((counters1["packets"] - counters0["packets"]) / wall),
            **{
                f"{key}_per_second": round((counters1[key] - counters0[key]) / wall, 2)
                for key in counters1
                if key.startswith("gc") and key.endswith("_collections")
            },
            "gc_objects": counters1["gc_objects"],
        }
    return out


async def run_record(args: argparse.Namespace, clips: tuple[Path, Path]) -> dict[str, Any]:
    """The same load without, then with the recorder, ``--repeat`` times in turn (so a change
    in the machine's load shifts both alike); what recording adds to the server."""
    pairs = []
    for _ in range(args.repeat):
        plain = await run_load(args, "passthrough", clips)
        root = tempfile.mkdtemp(prefix="courtlink-bench-rec-", dir=args.record_dir or None)
        try:
            rec = await run_load(args, "passthrough", clips, record=root)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        pairs.append((plain, rec, rec.pop("recording"), rec.pop("recorder_cpu")))
    # CPU per second of each run, so a slightly longer window does not count as overhead
    base_ms = statistics.mean(p["server_cpu_ms_per_second"] for p, _, _, _ in pairs)
    with_ms = statistics.mean(r["server_cpu_ms_per_second"] for _, r, _, _ in pairs)
    added = with_ms - base_ms
    tracks = args.rooms * args.participants * 2  # camera + audio per publisher
    forwarded = sum(f["forwarded_frames"] for _, _, f, _ in pairs)
    recorded = sum(f["recorded_frames"] for _, _, f, _ in pairs)
    plain, rec, files, _ = pairs[-1]
    return {
        **rec,
        "without_recording": plain,
        "repeat": args.repeat,
        "rounds_server_cpu_ms_per_second": [
            {"without": p["server_cpu_ms_per_second"], "with": r["server_cpu_ms_per_second"]}
            for p, r, _, _ in pairs
        ],
        "server_cpu_ms_per_second_without_recording": round(base_ms, 2),
        "server_cpu_ms_per_second_with_recording": round(with_ms, 2),
        "recording_cpu_ms_per_second": round(added, 2),
        "recording_overhead_percent": round(100 * added / base_ms, 1) if base_ms else None,
        "recording_cpu_ms_per_stream_second": round(added / rec["forwarded_video_streams"], 3),
        "recording_cpu_ms_per_track_second": round(added / tracks, 3),
        "recorder_cpu_measured": {
            key: round(statistics.mean(d[key] for *_, d in pairs), 2) for key in pairs[0][3]
        },
        "forwarded_frames": forwarded,
        "recorded_frames": recorded,
        "recorded_over_forwarded": round(recorded / forwarded, 5) if forwarded else None,
        "recording_files": files,
    }


def summarize(
    args: argparse.Namespace,
    mode: str,
    results: list[dict[str, Any]],
    sfu_stats: dict[str, Any],
    window: tuple[float, float],
    cpu: tuple[float, float],
    load_cpu: tuple[list[float], list[float]],
    rss: int,
) -> dict[str, Any]:
    t0, t1 = window
    wall = t1 - t0
    peers: dict[str, Any] = {}
    marks: dict[str, Any] = {"MARK": {}, "STOP": {}}
    for res in results:
        peers.update(res["peers"])
        for name in ("MARK", "STOP"):
            for key, value in res["marks"][name].items():
                if isinstance(value, dict):
                    marks[name].setdefault(key, {}).update(value)
    room_of = {pid: pid.split("p")[0] for pid in peers}
    streams = args.rooms * args.participants * (args.participants - 1)
    fps = [sum(1 for t, _ in d["sent"].values() if t0 <= t <= t1) / wall for d in peers.values()]
    published = round(sum(fps) * wall)
    expected = received = 0
    latencies: list[float] = []
    if mode == "passthrough":
        for pub, data in peers.items():
            for number, (t_sent, count) in data["sent"].items():
                if not t0 <= t_sent <= t1:
                    continue
                pic = str(int(number) & 0x7FFF)
                for sub, sdata in peers.items():
                    if sub == pub or room_of[sub] != room_of[pub]:
                        continue
                    expected += 1
                    rec = sdata["recv"].get(pub, {}).get(pic)
                    if rec is not None and rec[0] >= count:
                        received += 1
                        latencies.append((rec[1] - t_sent) * 1000)
    else:  # the encoder's frames carry no picture id of ours: count marker bits
        sent_between_marks = sum(
            marks["STOP"]["frames_sent"][p] - marks["MARK"]["frames_sent"][p] for p in peers
        )
        expected = sent_between_marks * (args.participants - 1)
        for sub in peers:
            after, before = marks["STOP"]["markers"][sub], marks["MARK"]["markers"][sub]
            received += sum(after.get(k, 0) - before.get(k, 0) for k in after)
    server_cpu = cpu[1] - cpu[0]
    drops = sum(o["drops"] for p in sfu_stats.values() for o in p["received"])
    gated = sum(o["gated_until_keyframe"] for p in sfu_stats.values() for o in p["received"])
    keyframe_requests = sum(
        t["keyframe_requests"] for p in sfu_stats.values() for t in p["published"].values()
    )

    def delta(key: str) -> int:
        return sum(marks["STOP"][key][p] - marks["MARK"][key][p] for p in peers)

    def server_total(side: str, key: str) -> int:
        if side == "published":
            tracks = [t for p in sfu_stats.values() for t in p["published"].values()]
        else:
            tracks = [o for p in sfu_stats.values() for o in p["received"]]
        return sum(t[key] for t in tracks if t["track_id"].endswith(":camera"))

    return {
        "mode": mode,
        "rooms": args.rooms,
        "participants": args.participants,
        "width": args.width,
        "height": args.height,
        "fps": args.fps,
        "video_kbps": args.kbps,
        "seconds": round(wall, 2),
        "forwarded_video_streams": streams,
        "server_cpu_percent": round(100 * server_cpu / wall, 1),
        "server_cpu_ms_per_second": round(1000 * server_cpu / wall, 2),
        "server_cpu_ms_per_stream_second": round(1000 * server_cpu / (streams * wall), 2),
        "server_cpu_kernel_share": round(args.server_system_seconds / server_cpu, 2)
        if server_cpu
        else None,
        "frames_published": published,
        "frames_sent": expected,
        "frames_received": received,
        "frame_loss": round(1 - received / expected, 5) if expected else None,
        "forward_latency_ms_p50": _round(percentile(latencies, 0.5)),
        "forward_latency_ms_p95": _round(percentile(latencies, 0.95)),
        "forward_latency_ms_p99": _round(percentile(latencies, 0.99)),
        "server_rss_mb": round(rss / 2**20, 1),
        "server_cpu_ms_per_delivered_frame": round(1000 * server_cpu / received, 3)
        if received
        else None,
        "video_packets_published": delta("video_packets_out"),
        "video_packets_received": delta("video_packets_in"),
        "server_video_packets_in_total": server_total("published", "packets_in"),
        "server_video_packets_out_total": server_total("received", "packets_out"),
        "server_drops": drops,
        "server_gated_until_keyframe": gated,
        "keyframe_requests": keyframe_requests,
        "load_procs": len(load_cpu[0]),
        "load_cpu_percent": round(100 * (sum(load_cpu[1]) - sum(load_cpu[0])) / wall, 1),
        "achieved_fps_mean": round(statistics.mean(fps), 2) if fps else None,
        "achieved_fps_min": round(min(fps), 2) if fps else None,
        "machine_load_avg_1m": round(psutil.getloadavg()[0], 2),
        "cpus": psutil.cpu_count(),
        "nice": Proc.nice,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def run_cycles(args: argparse.Namespace, clips: tuple[Path, Path]) -> dict[str, Any]:
    """Server RSS over ``--cycles`` joins and leaves of one peer into a room of steady peers."""
    server = await Proc.start(str(HERE / "_media_server.py"), "--mode", "passthrough")
    load = None
    try:
        port = await server.expect("PORT")
        url = f"http://127.0.0.1:{port}"
        peers = ",".join(f"r0p{i}@room0" for i in range(args.participants))
        load = await Proc.start(
            str(HERE / "_media_peers.py"), "--url", url, "--video", str(clips[0]),
            "--audio", str(clips[1]), "--fps", str(args.fps), "--publish", "--peers", peers,
            "--expect", str(args.participants - 1), "--churn", str(args.cycles),
            "--churn-room", "room0",
        )  # fmt: skip
        await load.expect("READY")
        rss: dict[int, float] = {}
        async with aiohttp.ClientSession() as session:

            async def sample(cycle: int) -> None:
                async with session.get(f"{url}/stats?gc=1") as resp:
                    await resp.read()
                rss[cycle] = server.ps.memory_info().rss / 2**20

            await sample(0)
            warm = min(20, args.cycles)
            marks = {1, 2, 5, 10, warm, args.cycles}
            started = time.monotonic()
            for cycle in range(1, args.cycles + 1):
                await load.expect("CYCLE")
                if cycle in marks or cycle % 25 == 0:
                    await sample(cycle)
            elapsed = time.monotonic() - started
        load.send("STOP")
    finally:
        if load is not None:
            await load.stop()
        await server.stop()
    return {
        "mode": "cycles",
        "participants": args.participants,
        "cycles": args.cycles,
        "seconds": round(elapsed, 1),
        "server_rss_mb": {str(k): round(v, 2) for k, v in sorted(rss.items())},
        # over every cycle; after the first (a room's first join and leave allocate what
        # later ones reuse: the steady peers' extra transceivers, first-use buffers); and
        # after the warm-up
        "rss_growth_mb": round(rss[args.cycles] - rss[0], 2),
        "rss_growth_mb_after_first_cycle": round(rss[args.cycles] - rss[1], 2),
        "rss_growth_mb_after_warmup": round(rss[args.cycles] - rss[warm], 2),
        "warmup_cycles": warm,
        "machine_load_avg_1m": round(psutil.getloadavg()[0], 2),
    }


async def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rooms", type=int, default=1)
    p.add_argument("--participants", type=int, default=3)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--warmup", type=float, default=3)
    p.add_argument("--grace", type=float, default=2, help="seconds to wait for late frames")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--kbps", type=int, default=1500)
    p.add_argument("--mode", choices=("passthrough", "transcode"), default="passthrough")
    p.add_argument("--compare", action="store_true", help="run both modes on the same load")
    p.add_argument("--cycles", type=int, default=0, help="join/leave cycles (memory mode)")
    p.add_argument("--load-procs", type=int, default=0, help="load processes (default: auto)")
    p.add_argument("--cache", default="var/bench-cache", help="where encoded clips are kept")
    p.add_argument("--json", default="", help="write the result here")
    p.add_argument("--profile", default="", help="cProfile the server into this file")
    p.add_argument("--nice", type=int, default=0, help="scheduling priority of the processes")
    p.add_argument(
        "--record", action="store_true", help="run the load without, then with recording"
    )
    p.add_argument("--record-dir", default="", help="where the recorded run writes (temp dir)")
    p.add_argument("--repeat", type=int, default=1, help="--record: pairs of runs, in turn")
    args = p.parse_args()
    if args.record and (args.compare or args.cycles or args.mode != "passthrough"):
        p.error("--record measures the passthrough SFU alone: no --compare, --cycles, --mode")
    Proc.nice = args.nice
    if not args.load_procs:
        args.load_procs = max(1, min(3, args.rooms * args.participants // 2))
    cache = Path(args.cache)
    clips = (
        video_clip(cache, args.width, args.height, fps=args.fps, kbps=args.kbps),
        audio_clip(cache),
    )
    if args.cycles:
        result = await run_cycles(args, clips)
    elif args.record:
        result = await run_record(args, clips)
    elif args.compare:
        runs = {mode: await run_load(args, mode, clips) for mode in ("passthrough", "transcode")}
        ratio = (
            runs["transcode"]["server_cpu_ms_per_stream_second"]
            / runs["passthrough"]["server_cpu_ms_per_stream_second"]
        )
        per_frame = (
            runs["transcode"]["server_cpu_ms_per_delivered_frame"]
            / runs["passthrough"]["server_cpu_ms_per_delivered_frame"]
        )
        result = {
            "compare": runs,
            "cpu_ratio_transcode_over_passthrough": round(ratio, 1),
            # when the baseline cannot keep up it delivers fewer frames for its CPU
            "cpu_per_delivered_frame_ratio_transcode_over_passthrough": round(per_frame, 1),
        }
    else:
        result = await run_load(args, args.mode, clips)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")  # noqa: ASYNC240


if __name__ == "__main__":
    asyncio.run(main())
