"""``bench/media.py --simulcast``: the SFU forwarding simulcast, plain and over a bad link.

Publishers (``bench/_simulcast_peers.py``) send each camera as three layers: ``h`` is the
plain runs' clip (``--width`` x ``--height``, ``--kbps``, ``testsrc2`` with noise), ``m`` is
half the size at 300 kb/s and ``l`` a quarter at 100 kb/s (what the page's encodings and
``signaling/sfu/simulcast.py`` take them to be), of the plainer ``testsrc`` picture: libvpx
cannot hold the noisy one to 100 kb/s at 320x180 (it gives ~130), where a browser's encoder
keeps to the cap the page sets. Encoded once at bench start into the clip cache
(``bench/_media_clip.py``); nothing is encoded while the bench runs.

Without ``--constrained``: the load of a plain run (``--participants`` publishers in each of
``--rooms``), with the server's simulcast on, then the same load with it off (one stream per
camera), ``--repeat`` times in turn: the server's CPU per forwarded stream both ways.

With ``--constrained N``: one room of ``--participants`` parties, N of them receive-only
subscribers whose link (both ways) crosses ``bench/_simulcast_relay.py`` at ``--link-kbps``,
``--link-loss`` and ``--link-rtt-ms``; what each subscriber gets (layer, whole frames a second,
audio lost) and how long the constrained one took to be on the low layer.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import psutil
from _media_clip import audio_clip, video_clip, voice_clip

HERE = Path(__file__).resolve().parent
LAYER_KBPS = (0, 300, 100)  # h: --kbps


def layer_clips(args: argparse.Namespace) -> list[Path]:
    """The three layers' clips, best first (encoded once, then cached)."""
    cache = Path(args.cache)
    return [
        video_clip(
            cache,
            args.width // d,
            args.height // d,
            fps=args.fps,
            kbps=kbps or args.kbps,
            pattern="testsrc" if kbps else "testsrc2",
        )
        for d, kbps in zip((1, 2, 4), LAYER_KBPS, strict=True)
    ]


def layer_name(args: argparse.Namespace, height: int | None) -> str | None:
    names = {args.height: "h", args.height // 2: "m", args.height // 4: "l"}
    return None if height is None else names.get(height, str(height))


async def run(args: argparse.Namespace, bench: ModuleType) -> dict[str, Any]:
    layers = layer_clips(args)
    clips = (layers[0], audio_clip(Path(args.cache)))
    args.peer_script = "_simulcast_peers.py"
    args.peer_args = ["--layers", ",".join(str(p) for p in layers[1:])]
    args.server_args = ["--simulcast"]
    before = bench.loadavg()
    if args.constrained:
        # Speech, and the same speech with in-band FEC, which a publisher switches to once
        # the SFU's reports tell it of loss (bench/_simulcast_peers.py), as a browser does.
        cache = Path(args.cache)
        clips = (layers[0], voice_clip(cache))
        args.peer_args += ["--audio-fec", str(voice_clip(cache, fec=True))]
        rounds = [await constrained_round(args, bench, clips) for _ in range(args.repeat)]
        return {**combine(rounds), "loadavg_before": before, "loadavg_after": bench.loadavg()}
    plain = argparse.Namespace(**vars(args))
    plain.peer_script, plain.peer_args, plain.server_args = "_media_peers.py", [], []
    pairs = []
    for _ in range(args.repeat):
        pairs.append((await bench.run_load(args, "passthrough", clips),
                      await bench.run_load(plain, "passthrough", clips)))  # fmt: skip
    key = "server_cpu_ms_per_stream_second"
    on = statistics.mean(s[key] for s, _ in pairs)
    off = statistics.mean(p[key] for _, p in pairs)
    return {
        "simulcast": pairs[-1][0],
        "plain": pairs[-1][1],
        "rounds_server_cpu_ms_per_stream_second": [
            {"simulcast": s[key], "plain": p[key]} for s, p in pairs
        ],
        "server_cpu_ms_per_stream_second_simulcast": round(on, 2),
        "server_cpu_ms_per_stream_second_plain": round(off, 2),
        "cpu_ratio_simulcast_over_plain": round(on / off, 2) if off else None,
        "loadavg_before": before,
        "loadavg_after": bench.loadavg(),
    }


async def constrained_round(
    args: argparse.Namespace, bench: ModuleType, clips: tuple[Path, Path]
) -> dict[str, Any]:
    Proc = bench.Proc
    server = await Proc.start(str(HERE / "_media_server.py"), "--mode", "passthrough",
                              "--simulcast")  # fmt: skip
    relays: list[Any] = []
    loads: list[Any] = []
    counters = []
    timeline: list[Any] = []
    watch = None
    try:
        url = f"http://127.0.0.1:{await server.expect('PORT')}"
        watch = asyncio.create_task(watch_downlink(url, timeline))
        common = ["--url", url, "--video", str(clips[0]), "--audio", str(clips[1])]
        common += ["--fps", str(args.fps), "--mode", "simulcast", *args.peer_args]
        publishers = args.participants - args.constrained
        specs = [f"r0p{i}@room0" for i in range(publishers)]
        procs = args.load_procs or 1
        for group in filter(None, (specs[i::procs] for i in range(procs))):
            loads.append(await Proc.start(str(HERE / "_simulcast_peers.py"), *common, "--publish",
                                          "--peers", ",".join(group),
                                          "--expect", str(publishers - 1)))  # fmt: skip
        for i in range(args.constrained):
            relay = await Proc.start(
                str(HERE / "_simulcast_relay.py"), "--loss", str(args.link_loss),
                "--rtt-ms", str(args.link_rtt_ms), "--rate-kbps", str(args.link_kbps),
                "--seed", str(i + 1),
            )  # fmt: skip
            relays.append(relay)
            ports = (await relay.expect("RELAY")).split()
            loads.append(await Proc.start(str(HERE / "_simulcast_peers.py"), *common,
                                          "--peers", f"r0c{i}@room0", "--expect", "1",
                                          "--relay", ",".join(ports)))  # fmt: skip
        for load in loads:
            await load.expect("READY")
        window = await bench.measure(args, server, loads)
        load_avg = psutil.getloadavg()[0]
        async with aiohttp.ClientSession() as session, session.get(f"{url}/stats") as resp:
            stats = (await resp.json())["sfu"]
        results = await bench.collect(args, loads)
    finally:
        if watch is not None:
            watch.cancel()
        for load in loads:
            await load.stop()
        for relay in relays:
            relay.proc.terminate()
            try:
                counters.append(json.loads("{" + await relay.expect("{", 20)))
            except (RuntimeError, TimeoutError, ValueError):
                counters.append(None)
            await relay.stop()
        await server.stop()
    peers = {pid: data for res in results for pid, data in res["peers"].items()}
    (t0, t1), cpu = window.t, window.cpu
    out = summarize_round(args, peers, t1)
    # When each publisher's audio went over to in-band FEC (true) and back, from the run's
    # start: the SFU's reports passing the constrained link's loss up.
    out["publisher_fec_switches"] = {
        pid: [[round(t - t0, 1), on] for t, on in data.get("fec_switches", [])]
        for pid, data in peers.items()
        if pid.startswith("r0p")
    }
    out["constrained_rr_blocks_without_with_lsr"] = [
        data.get("rr_blocks_without_with_lsr") for pid, data in peers.items() if "c" in pid
    ]
    streams = (args.participants - 1) * publishers
    if timeline:  # the SFU's own view at the end: layer per camera ("paused": none)
        rids = {0: "h", 1: "m", 2: "l", None: "paused"}
        last = next(iter(timeline[-1][1].values()))["layers"]
        out["constrained_subscriber_layers_sfu"] = [rids[cur] for cur, _ in last.values()]
    used = cpu[1] - cpu[0]
    out.update({
        "server_cpu_percent": round(100 * used / (t1 - t0), 1),
        "server_cpu_ms_per_stream_second": round(1000 * used / (streams * (t1 - t0)), 2),
        "relay_counters": counters,
        "constrained_downlink_timeline": timeline,
        "sfu_constrained": {k: v for k, v in stats.items() if k.startswith("r0c")},
        "machine_load_avg_1m": round(load_avg, 2),
    })  # fmt: skip
    return out


async def watch_downlink(url: str, into: list[Any]) -> None:
    """The constrained subscribers' downlink estimate and layers, once a second from the
    server's start (``[seconds, {peer: ...}]``; layers as indexes, 0 = h: [current, target])."""
    t0 = time.monotonic()
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"{url}/stats?downlink=1") as resp:
                down = (await resp.json())["downlink"]
            mine = {k: v for k, v in down.items() if k.startswith("r0c")}
            if mine:
                into.append([round(time.monotonic() - t0, 1), mine])
            await asyncio.sleep(1)


def summarize_round(args: argparse.Namespace, peers: dict[str, Any], end: float) -> dict[str, Any]:
    """Per subscriber kind: layer at the end, whole frames a second per camera over the last
    half of the run, time to the low layer, audio lost."""
    start = end - args.seconds / 2
    out: dict[str, Any] = {"seconds": args.seconds, "settled_window_s": round(end - start, 1)}
    for kind, ids in (
        ("constrained", [p for p in peers if p.startswith("r0c")]),
        ("unconstrained", [p for p in peers if p.startswith("r0p")]),
    ):
        fps, layers, switch, first_low = [], [], [], []
        audio = Counter[str]()  # packets: over the settled window, and over the whole run
        for pid in ids:
            for st in peers[pid]["streams"].values():
                if st["pub"] is None:
                    got = [(s, fec) for t, s, fec in st["arrivals"] if start <= t <= end]
                    seqs = {s for s, _ in got}
                    if seqs:
                        audio["received"] += len(seqs)
                        audio["expected"] += max(seqs) - min(seqs) + 1
                        # a lost packet whose successor came with LBRR is decoded from it
                        fec = {s for s, f in got if f}
                        lost = set(range(min(seqs), max(seqs) + 1)) - seqs
                        audio["rebuilt"] += sum(1 for s in lost if s + 1 in fec)
                    audio["received_run"] += st["count"]
                    audio["expected_run"] += st["expected"]
                    continue
                fps.append(sum(1 for t in st["complete"] if start <= t <= end) / (end - start))
                keys = st["keyframes"]
                layer = layer_name(args, keys[-1][1] if keys else None)
                paused = st["last"] < start
                layers.append("paused" if paused else layer)
                switch.append(
                    None if paused else time_to_low(args, st["first"], keys, st["complete"])
                )
                low = [t for t, height in keys if layer_name(args, int(height)) == "l"]
                first_low.append(round(low[0] - st["first"], 2) if low else None)
        out[f"{kind}_subscriber_fps"] = round(statistics.mean(fps), 2) if fps else None
        out[f"{kind}_subscriber_fps_per_camera"] = [round(f, 2) for f in fps]
        out[f"{kind}_subscriber_layer"] = Counter(layers).most_common(1)[0][0] if layers else None
        out[f"{kind}_subscriber_layers"] = layers
        if kind == "constrained":
            out["layer_switch_s"] = switch
            out["layer_first_low_s"] = first_low
            expected = audio["expected"]
            if expected:
                lost = expected - audio["received"]
                # After concealment: what the receiver's decoder could not rebuild.
                out["audio_loss_constrained"] = round((lost - audio["rebuilt"]) / expected, 4)
                out["audio_packet_loss_constrained"] = round(lost / expected, 4)
            else:
                out["audio_loss_constrained"] = out["audio_packet_loss_constrained"] = None
            out["audio_rebuilt_from_fec"] = audio["rebuilt"]
            run = audio["expected_run"]
            out["audio_packet_loss_constrained_whole_run"] = (
                round(1 - audio["received_run"] / run, 4) if run else None
            )
    return out


def time_to_low(
    args: argparse.Namespace, first: float, keys: list[list[float]], complete: Sequence[float] = ()
) -> float | None:
    """Seconds from a camera's first packet to the keyframe from which it stayed on ``l``:
    the first ``l`` keyframe of its last run of them, after its last pause (a gap of over a
    second between whole frames)."""
    resume = first
    for a, b in itertools.pairwise(complete):
        if b - a > 1.0:
            resume = b
    at = None
    for t, height in keys:
        if t < resume - 0.5:
            continue  # before the last pause
        low = layer_name(args, int(height)) == "l"
        at = (at or t) if low else None
    return None if at is None else round(at - first, 2)


def _p95(values: list[float | None]) -> float | None:
    """The 95th percentile, a None (never) counted as the longest."""
    ordered = sorted(values, key=lambda s: float("inf") if s is None else s)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else None


def combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The rounds' figures as one: means, the most common layer, p95 over every stream."""
    last = rounds[-1]
    out: dict[str, Any] = {}
    for kind in ("constrained", "unconstrained"):
        fps = [r[f"{kind}_subscriber_fps"] for r in rounds]
        fps = [f for f in fps if f is not None]  # None: no camera received at all
        out[f"{kind}_subscriber_fps"] = round(statistics.mean(fps), 2) if fps else None
        layers = [r[f"{kind}_subscriber_layer"] for r in rounds]
        out[f"{kind}_subscriber_layer"] = Counter(layers).most_common(1)[0][0]
    switches = [s for r in rounds for s in r["layer_switch_s"]]
    out["layer_switch_s_p95"] = _p95(switches)  # None: some camera never settled on l
    # The looser reading: the first arrival on l, whatever the probes did after it.
    out["layer_first_low_s_p95"] = _p95([s for r in rounds for s in r["layer_first_low_s"]])
    out["layer_switch_streams_not_on_low"] = sum(1 for s in switches if s is None)
    losses = [
        r["audio_loss_constrained"] for r in rounds if r["audio_loss_constrained"] is not None
    ]
    out["audio_loss_constrained"] = round(statistics.mean(losses), 4) if losses else None
    raw = [r["audio_packet_loss_constrained"] for r in rounds]
    out["audio_packet_loss_constrained"] = (
        round(statistics.mean(raw), 4) if None not in raw else None
    )
    out["audio_loss_note"] = (
        "over the settled window, after concealment: a lost packet counts as lost unless the"
        " next one arrived carrying Opus in-band FEC (LBRR), from which a decoder rebuilds it;"
        " audio_packet_loss_constrained is every packet the link lost"
    )
    out["server_cpu_ms_per_stream_second"] = last["server_cpu_ms_per_stream_second"]
    out["rounds"] = rounds
    return out
