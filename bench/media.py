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
    python bench/media.py --vs-janus --rounds 3 --json OUT   # beside Janus (make bench-deps)
    python bench/media.py --simulcast --participants 6 --json OUT  # simulcast on, then off
    python bench/media.py --simulcast --constrained 1 --json OUT   # one subscriber's bad link

``--record`` runs the same load twice, without and then with the real recorder as the SFU's
tap (writing files to a temporary directory), and reports what recording adds to the
server's CPU and how many forwarded frames the files hold.

``--vs-janus`` runs the same peers, clip and load against courtlink and against Debian's Janus
VideoRoom (``bench/_janus.py``, ``bench/_janus_peers.py``), alternating, at each of ``--sizes``.

``--simulcast`` has the publishers send three layers and the server forward one to each
subscriber (``bench/_simulcast.py``); without it the server runs with simulcast off.

Writes JSON (see bench/README.md for the fields and the figures measured).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _janus import (  # noqa: E402
    LOOPBACK,
    create_rooms,
    free_port,
    janus_argv,
    janus_binary,
    janus_version,
    wait_listening,
    write_configs,
)
from _media_clip import audio_clip, video_clip  # noqa: E402
from _report import write_result  # noqa: E402


class Proc:
    """A child process speaking the line protocol of _media_server/_media_peers."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.ps = psutil.Process(proc.pid)

    nice = 0  # set from --nice: the machine is shared; see bench/README.md

    @classmethod
    async def start(cls, *argv: str, program: str = sys.executable) -> Proc:
        proc = await asyncio.create_subprocess_exec(
            program, *argv,
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
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Window(NamedTuple):
    """The measured stretch of a run: wall clock, the server's and the load processes' CPU."""

    t: tuple[float, float]
    cpu: tuple[float, float]
    load_cpu: tuple[list[float], list[float]]
    udp_drops: tuple[int, int] = (0, 0)  # datagrams dropped for a full receive buffer:
    # on every socket of the machine, and on the server's own (what it never read)


def udp_receive_buffer_errors() -> int:
    """The kernel's count of UDP datagrams dropped for a full receive buffer (all sockets)."""
    rows = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()]
    names, values = (row for row in rows if row[0] == "Udp:")
    return int(values[names.index("RcvbufErrors")])


def socket_drops(pid: int) -> int:
    """Datagrams dropped on the UDP sockets process ``pid`` holds (``/proc/net/udp*``)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            link = os.readlink(fd)
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    total = 0
    for table in ("udp", "udp6"):
        for row in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = row.split()
            if fields[9] in inodes:
                total += int(fields[-1])
    return total


async def start_loads(
    args: argparse.Namespace,
    url: str,
    clips: tuple[Path, Path],
    mode: str,
    loads: list[Proc],
    script: str = "_media_peers.py",
    extra: tuple[str, ...] = (),
) -> None:
    """Start the lean load peers (into ``loads``, so the caller stops them whatever happens)
    and wait until every subscriber gets frames from every other publisher of its room."""
    specs = [f"r{r}p{i}@room{r}" for r in range(args.rooms) for i in range(args.participants)]
    groups = [specs[i :: args.load_procs] for i in range(args.load_procs)]
    common = ["--url", url, "--video", str(clips[0]), "--audio", str(clips[1])]
    common += ["--fps", str(args.fps), "--mode", mode, "--publish"]
    for group in filter(None, groups):
        argv = [str(HERE / script), *common, "--peers", ",".join(group)]
        argv += ["--expect", str(args.participants - 1), *extra]
        loads.append(await Proc.start(*argv))
    for load in loads:
        await load.expect("READY")


async def measure(args: argparse.Namespace, server: Proc, loads: list[Proc]) -> Window:
    """``args.seconds`` of steady load between the peers' MARK and the end of the window."""
    cpu0, load0, t0 = server.cpu(), [p.cpu() for p in loads], time.monotonic()
    sys0, drops0 = server.system_cpu(), udp_receive_buffer_errors()
    server_drops0 = socket_drops(server.proc.pid)
    for load in loads:
        load.send("MARK")
    await asyncio.sleep(args.seconds)
    cpu1, load1, t1 = server.cpu(), [p.cpu() for p in loads], time.monotonic()
    args.server_system_seconds = server.system_cpu() - sys0
    drops = (
        udp_receive_buffer_errors() - drops0,
        socket_drops(server.proc.pid) - server_drops0,
    )
    return Window((t0, t1), (cpu0, cpu1), (load0, load1), drops)


async def collect(args: argparse.Namespace, loads: list[Proc]) -> list[dict[str, Any]]:
    """Each load process's counts, once frames sent before the window's end have arrived."""
    await asyncio.sleep(args.grace)
    for load in loads:
        load.send("STOP")
    return [json.loads(await load.expect("RESULT")) for load in loads]


async def run_load(
    args: argparse.Namespace, mode: str, clips: tuple[Path, Path], record: str = ""
) -> dict[str, Any]:
    extra = ["--profile", args.profile] if args.profile else []
    extra += ["--record", record] if record else []
    extra += getattr(args, "server_args", [])  # --simulcast (bench/_simulcast.py)
    server = await Proc.start(str(HERE / "_media_server.py"), "--mode", mode, *extra)
    loads: list[Proc] = []
    recording: dict[str, Any] = {}
    try:
        disk_tid = int(await server.expect("DISK_THREAD")) if record else 0
        port = await server.expect("PORT")
        url = f"http://127.0.0.1:{port}"
        script = getattr(args, "peer_script", "_media_peers.py")
        simulcast = script != "_media_peers.py"
        peer_mode = "simulcast" if simulcast else mode  # frames counted by marker bits
        await start_loads(args, url, clips, peer_mode, loads, script, args_of(args))
        await asyncio.sleep(args.warmup)
        counters0: dict[str, float] = {}
        if record:
            async with aiohttp.ClientSession() as session, session.get(f"{url}/stats") as resp:
                counters0 = (await resp.json())["recorder"]
        disk0 = server.thread_cpu(disk_tid) if record else 0.0
        main0 = server.thread_cpu(server.proc.pid)
        window = await measure(args, server, loads)
        disk1 = server.thread_cpu(disk_tid) if record else 0.0
        main1 = server.thread_cpu(server.proc.pid)
        async with aiohttp.ClientSession() as session, session.get(f"{url}/stats") as resp:
            stats = await resp.json()
        sfu_stats = stats["sfu"]
        counters1 = stats.get("recorder", {})
        results = await collect(args, loads)
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
    out = summarize(args, peer_mode, results, sfu_stats, window, rss)
    t0, t1 = window.t
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


def args_of(args: argparse.Namespace) -> tuple[str, ...]:
    """What the load peers' script takes beyond _media_peers.py's own arguments."""
    return tuple(getattr(args, "peer_args", ()))


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
    sfu_stats: dict[str, Any] | None,
    window: Window,
    rss: int,
) -> dict[str, Any]:
    """One run's figures. ``sfu_stats`` is courtlink's own account of the run (drops, keyframe
    requests, packets); None for a server that gives none (Janus): those figures are null."""
    (t0, t1), cpu, load_cpu, udp_drops = window
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

    def delta(key: str) -> int:
        return sum(marks["STOP"][key][p] - marks["MARK"][key][p] for p in peers)

    def server_total(side: str, key: str, camera_only: bool = True) -> int | None:
        if sfu_stats is None:
            return None
        if side == "published":
            tracks = [t for p in sfu_stats.values() for t in p["published"].values()]
        else:
            tracks = [o for p in sfu_stats.values() for o in p["received"]]
        return sum(t[key] for t in tracks if not camera_only or t["track_id"].endswith(":camera"))

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
        "udp_receive_buffer_drops_machine": udp_drops[0],
        "udp_receive_buffer_drops_server_sockets": udp_drops[1],
        "server_drops": server_total("received", "drops", False),
        "server_gated_until_keyframe": server_total("received", "gated_until_keyframe", False),
        "keyframe_requests": server_total("published", "keyframe_requests", False),
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


async def run_janus(args: argparse.Namespace, clips: tuple[Path, Path]) -> dict[str, Any]:
    """The load of ``run_load`` against Janus's VideoRoom, on a loopback-only configuration
    written to a temporary directory; the same figures (Janus gives no account of its own)."""
    with tempfile.TemporaryDirectory(prefix="courtlink-bench-janus-") as tmp:
        folder = Path(tmp)
        ws_port = free_port()
        base = 20000 + 1000 * (ws_port % 40)  # RTP ports: 1,000 of them, on 127.0.0.1 only
        write_configs(folder, ws_port, (base, base + 999))
        argv = janus_argv(folder, folder / "janus.log")
        server = await Proc.start(*argv[1:], program=argv[0])
        loads: list[Proc] = []
        try:
            await wait_listening(ws_port)
            url = f"ws://{LOOPBACK}:{ws_port}"
            await create_rooms(url, [f"room{r}" for r in range(args.rooms)], args.participants)
            await start_loads(args, url, clips, "passthrough", loads, "_janus_peers.py")
            await asyncio.sleep(args.warmup)
            window = await measure(args, server, loads)
            results = await collect(args, loads)
            rss = server.ps.memory_info().rss
        except BaseException:
            log = folder / "janus.log"
            if log.exists():
                print(log.read_text()[-4000:], file=sys.stderr)
            raise
        finally:
            for p in loads:
                await p.stop()
            await server.stop()
    return summarize(args, "passthrough", results, None, window, rss)


# What --vs-janus compares, as courtlink's keys; Janus's have the prefix ``janus_``.
COMPARED = (
    "server_cpu_ms_per_stream_second",
    "frame_loss",
    "forward_latency_ms_p50",
    "forward_latency_ms_p95",
    "forward_latency_ms_p99",
)
RATIO = "cpu_ratio_courtlink_over_janus"
SIZES = ("3x640x480", "6x1280x720")
TARGET_SIZE = "6x1280x720"


def parse_size(size: str) -> tuple[int, int, int]:
    """``6x1280x720`` -> (participants, width, height)."""
    participants, width, height = (int(part) for part in size.split("x"))
    return participants, width, height


def comparison(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Both servers' figures over alternating rounds (each ``{"courtlink": run, "janus":
    run}``): the mean of the rounds, and courtlink's CPU over Janus's."""

    def mean(side: str, key: str) -> float | None:
        values = [r[side][key] for r in rounds if r[side][key] is not None]
        return round(statistics.mean(values), 5 if key == "frame_loss" else 2) if values else None

    out: dict[str, Any] = {}
    for key in COMPARED:
        out[key] = mean("courtlink", key)
        out[f"janus_{key}"] = mean("janus", key)
    ours, theirs = (
        out["server_cpu_ms_per_stream_second"],
        out["janus_server_cpu_ms_per_stream_second"],
    )
    out[RATIO] = round(ours / theirs, 2) if ours is not None and theirs else None
    first = rounds[0]["courtlink"]
    out.update(
        {k: first[k] for k in ("participants", "width", "height", "forwarded_video_streams")}
    )
    out["rounds"] = rounds
    return out


def headline(sizes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The top-level keys: the 6 x 720p comparison (the target's), or the largest size run."""
    size = TARGET_SIZE if TARGET_SIZE in sizes else max(sizes, key=lambda s: parse_size(s))
    keys = [k for key in COMPARED for k in (key, f"janus_{key}")] + [RATIO]
    return {"headline_size": size, **{k: sizes[size][k] for k in keys}}


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


async def run_vs_janus(args: argparse.Namespace) -> dict[str, Any]:
    """courtlink, then Janus, ``--rounds`` times in turn for each size (so a change in the
    machine's load falls on both alike), the same peers, clip and load on each."""
    before = loadavg()
    sizes: dict[str, dict[str, Any]] = {}
    for size in args.sizes.split(","):
        run = argparse.Namespace(**vars(args))
        run.participants, run.width, run.height = parse_size(size)
        run.load_procs = args.load_procs or auto_load_procs(run)
        clips = (
            video_clip(Path(args.cache), run.width, run.height, fps=run.fps, kbps=run.kbps),
            audio_clip(Path(args.cache)),
        )
        rounds = []
        for _ in range(args.rounds):
            court = await run_load(run, "passthrough", clips)
            rounds.append({"courtlink": court, "janus": await run_janus(run, clips)})
        sizes[size] = comparison(rounds)
    return {
        **headline(sizes),
        **sizes,
        "janus_version": janus_version(),
        "rounds_per_size": args.rounds,
        "loadavg_before": before,
        "loadavg_after": loadavg(),
    }


def auto_load_procs(args: argparse.Namespace) -> int:
    return max(1, min(3, args.rooms * args.participants // 2))


async def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rooms", type=int, default=1)
    p.add_argument("--participants", type=int, default=3)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--warmup", type=float, default=3)
    p.add_argument("--grace", type=float, default=2, help="seconds to wait for late frames")
    p.add_argument("--width", type=int, default=0, help="default 640 (1280 with --simulcast)")
    p.add_argument("--height", type=int, default=0, help="default 480 (720 with --simulcast)")
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
    p.add_argument(
        "--repeat", type=int, default=1, help="--record, --simulcast: runs of each, in turn"
    )
    p.add_argument("--simulcast", action="store_true", help="publishers send three layers")
    p.add_argument(
        "--constrained", type=int, default=0, help="--simulcast: subscribers on a bad link"
    )
    p.add_argument("--link-kbps", type=float, default=500, help="--constrained: link rate")
    p.add_argument("--link-loss", type=float, default=0.03, help="--constrained: random loss")
    p.add_argument("--link-rtt-ms", type=float, default=150, help="--constrained: round trip")
    p.add_argument(
        "--vs-janus", action="store_true", help="courtlink and Janus VideoRoom, alternating"
    )
    p.add_argument("--rounds", type=int, default=2, help="--vs-janus: rounds per size")
    p.add_argument(
        "--sizes", default=",".join(SIZES), help="--vs-janus: participants x width x height, ..."
    )
    args = p.parse_args()
    if args.vs_janus and janus_binary() is None:
        p.error("--vs-janus needs Debian's janus: `make bench-deps` installs it")
    if args.record and (args.compare or args.cycles or args.mode != "passthrough"):
        p.error("--record measures the passthrough SFU alone: no --compare, --cycles, --mode")
    Proc.nice = args.nice
    args.width = args.width or (1280 if args.simulcast else 640)
    args.height = args.height or (720 if args.simulcast else 480)
    if args.simulcast:
        if (
            args.compare
            or args.cycles
            or args.record
            or args.vs_janus
            or args.mode != "passthrough"
        ):
            p.error("--simulcast runs alone: no --compare, --cycles, --record, --vs-janus, --mode")
        if args.constrained and args.participants == 3 and "--participants" not in sys.argv:
            args.participants = 4  # issue 18: a 4-party room
        if not args.load_procs and not args.constrained:
            args.load_procs = auto_load_procs(args)
        import _simulcast

        write_result(await _simulcast.run(args, sys.modules[__name__]), args.json)
        return
    if args.vs_janus:
        result = await run_vs_janus(args)
        write_result(result, args.json)
        return
    if not args.load_procs:
        args.load_procs = auto_load_procs(args)
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
    write_result(result, args.json)


if __name__ == "__main__":
    asyncio.run(main())
