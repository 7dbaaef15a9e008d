"""A userspace bad network for UDP: a relay that drops, delays and rate-limits datagrams.

This machine's kernel has no ``netem`` qdisc, so the impairment lives here: the relay listens
on one UDP port and forwards every datagram to an upstream address (a TURN server, so a
party told to use only that TURN server, ``iceTransportPolicy: "relay"``, has all its media
go through the relay). Each client address gets its own upstream socket, and the answers come
back through it. Both directions get the same impairment, applied in this order:

- loss: each datagram is dropped with probability ``loss`` (independent, uniform);
- rate: a token bucket of ``rate_kbps`` (burst ``burst_bytes``); a datagram waits in a FIFO
  until the bucket holds its size; a full FIFO (``queue_bytes``) drops it, as a bottleneck
  router's tail-drop queue would;
- delay: half of ``rtt_ms`` one way, added after the queue.

Tests run it as a process of its own (``RelayProcess``). Run on its own (e.g. in front of
coturn for a manual test with a browser):

    .venv/bin/python tests/netimpair.py --listen 127.0.0.1:3479 --upstream 127.0.0.1:3478 \\
        --loss 0.05 --rtt-ms 150 --rate-kbps 1000
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Address = tuple[str, int]


@dataclass(frozen=True)
class Impairment:
    loss: float = 0.0
    rtt_ms: float = 0.0
    rate_kbps: float = 0.0  # 0: no cap
    burst_bytes: int = 15_000
    queue_bytes: int = 64_000


@dataclass
class Counters:
    packets: int = 0
    lost: int = 0
    overflow: int = 0
    delivered: int = 0
    bytes: int = 0


@dataclass
class Lane:
    """One direction of one client's traffic: loss, then the bucket's queue, then delay."""

    imp: Impairment
    send: Callable[[bytes], None]
    rng: random.Random
    counters: Counters = field(default_factory=Counters)
    queue: collections.deque[bytes] = field(default_factory=collections.deque)
    queued: int = 0
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)
    timer: asyncio.TimerHandle | None = None

    def push(self, data: bytes) -> None:
        self.counters.packets += 1
        if self.imp.loss and self.rng.random() < self.imp.loss:
            self.counters.lost += 1
            return
        if self.queued + len(data) > self.imp.queue_bytes:
            self.counters.overflow += 1
            return
        self.queue.append(data)
        self.queued += len(data)
        self._drain()

    def _refill(self) -> None:
        now = time.monotonic()
        if self.imp.rate_kbps:
            rate = self.imp.rate_kbps * 125.0  # bytes per second
            self.tokens = min(self.imp.burst_bytes, self.tokens + (now - self.stamp) * rate)
        self.stamp = now

    def _drain(self) -> None:
        self.timer = None
        self._refill()
        loop = asyncio.get_running_loop()
        while self.queue:
            size = len(self.queue[0])
            if self.imp.rate_kbps and self.tokens < size:
                # Come back when the bucket holds this datagram.
                wait = (size - self.tokens) / (self.imp.rate_kbps * 125.0)
                if self.timer is None:
                    self.timer = loop.call_later(wait, self._drain)
                return
            data = self.queue.popleft()
            self.queued -= size
            if self.imp.rate_kbps:
                self.tokens -= size
            self.counters.delivered += 1
            self.counters.bytes += size
            if self.imp.rtt_ms:
                loop.call_later(self.imp.rtt_ms / 2000.0, self.send, data)
            else:
                self.send(data)


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, relay: Relay, client: Address) -> None:
        self.relay, self.client = relay, client

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.relay.down[self.client].push(data)


class Relay(asyncio.DatagramProtocol):
    """The listening side; ``start`` binds it and returns the address it listens on."""

    def __init__(self, upstream: Address, imp: Impairment, seed: int = 1) -> None:
        self.upstream_addr, self.imp = upstream, imp
        self.rng = random.Random(seed)
        self.transport: asyncio.DatagramTransport | None = None
        self.up: dict[Address, Lane] = {}
        self.down: dict[Address, Lane] = {}
        self.sockets: dict[Address, asyncio.DatagramTransport] = {}
        self.pending: dict[Address, list[bytes]] = {}
        self.opening: set[asyncio.Task[None]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> Address:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port))
        self.transport = transport
        sockname: Address = transport.get_extra_info("sockname")[:2]
        return sockname

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def datagram_received(self, data: bytes, addr: Address) -> None:
        if addr not in self.up:
            self._open(addr)
        self.up[addr].push(data)

    def _open(self, client: Address) -> None:
        loop = asyncio.get_running_loop()
        self.pending[client] = []

        def to_upstream(data: bytes) -> None:
            sock = self.sockets.get(client)
            if sock is None:
                self.pending[client].append(data)  # the upstream socket is still opening
            else:
                sock.sendto(data)

        def to_client(data: bytes) -> None:
            if self.transport is not None:
                self.transport.sendto(data, client)

        self.up[client] = Lane(self.imp, to_upstream, self.rng)
        self.down[client] = Lane(self.imp, to_client, self.rng)

        async def connect() -> None:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Upstream(self, client), remote_addr=self.upstream_addr
            )
            self.sockets[client] = transport
            for data in self.pending.pop(client, []):
                transport.sendto(data)

        task = loop.create_task(connect())
        self.opening.add(task)
        task.add_done_callback(self.opening.discard)

    def counters(self) -> dict[str, dict[str, int]]:
        """Totals per direction over every client."""
        out: dict[str, dict[str, int]] = {}
        for name, lanes in (("up", self.up), ("down", self.down)):
            total = Counters()
            for lane in lanes.values():
                for key in vars(total):
                    setattr(total, key, getattr(total, key) + getattr(lane.counters, key))
            out[name] = vars(total)
        return out

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close()
        if self.transport is not None:
            self.transport.close()


def _address(text: str) -> Address:
    host, port = text.rsplit(":", 1)
    return host, int(port)


class RelayProcess:
    """The relay in a process of its own, as a network is: a test process that also runs the
    server and drives browsers stalls on a busy machine, and a relay inside it would turn
    every stall into a burst of loss (its queue overflows when the backlog arrives at once)
    that the impairment does not ask for."""

    def __init__(self, upstream: Address, imp: Impairment, seed: int = 1) -> None:
        self.upstream, self.imp, self.seed = upstream, imp, seed
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> Address:
        """Start it on a free loopback port; return the address it listens on."""
        up = f"{self.upstream[0]}:{self.upstream[1]}"
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--listen", "127.0.0.1:0", "--upstream", up,
            "--loss", str(self.imp.loss), "--rtt-ms", str(self.imp.rtt_ms),
            "--rate-kbps", str(self.imp.rate_kbps), "--seed", str(self.seed),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = (await asyncio.wait_for(self.proc.stdout.readline(), 30)).decode()
        assert line.startswith("relaying "), f"the relay did not start: {line!r}"
        return _address(line.split()[1])

    async def stop(self) -> dict[str, dict[str, int]]:
        """Stop it; return its counters (``Relay.counters``)."""
        assert self.proc is not None and self.proc.stdout is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        out = (await asyncio.wait_for(self.proc.stdout.read(), 30)).decode()
        await self.proc.wait()
        counters: dict[str, dict[str, int]] = json.loads(out.strip().splitlines()[-1])
        return counters


async def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=_address, default=("127.0.0.1", 3479))
    parser.add_argument("--upstream", type=_address, required=True)
    parser.add_argument("--loss", type=float, default=0.05)
    parser.add_argument("--rtt-ms", type=float, default=150)
    parser.add_argument("--rate-kbps", type=float, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    imp = Impairment(args.loss, args.rtt_ms, args.rate_kbps)
    relay = Relay(args.upstream, imp, seed=args.seed)
    host, port = await relay.start(*args.listen)
    print(f"relaying {host}:{port} -> {args.upstream[0]}:{args.upstream[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        while not stop.is_set():  # the counters every 10 s, and the last ones on the way out
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 10)
            print(json.dumps(relay.counters()), flush=True)
    finally:
        relay.close()


if __name__ == "__main__":
    asyncio.run(_main())
